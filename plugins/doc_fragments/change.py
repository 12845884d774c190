# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """Options of the modules that change a store (defs_promote, defs_rollback)."""

    DOCUMENTATION = r"""
options:
  lock_stale_seconds:
    description:
      - A store's lock older than this is taken to belong to a crashed run and is broken. A lock whose
        process is gone (same host) is broken at once.
    type: int
    default: 900
  restart_service:
    description:
      - Restart the SMSMSE service after a change (Windows), or run O(restart_command) (POSIX hosts).
      - A failed restart is a warning; the change stands.
    type: bool
    default: false
  service_name:
    description: The SMSMSE service to restart on Windows.
    type: str
    default: SMSMSE
  restart_command:
    description: On POSIX hosts, the command (argument list) that O(restart_service) runs.
    type: list
    elements: str
"""
