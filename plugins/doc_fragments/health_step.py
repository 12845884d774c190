# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """The attributes of the defs_health role's internal steps (defs_health_fleet, defs_health_host)."""

    DOCUMENTATION = r"""
attributes:
  check_mode:
    support: full
    description:
      - Nothing on a host is changed. The fleet step only reads what the hosts returned; the host step decides and
        records as in report mode.
  diff_mode:
    support: none
    description: No diff; the report shows what changed.
  platform:
    support: full
    platforms: [posix, windows]
    description: Hosts of any platform the agents support; the fleet step runs on the controller only.
"""
