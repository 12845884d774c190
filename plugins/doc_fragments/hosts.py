# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """What the modules that call the agent on a host need, and the hosts they support."""

    DOCUMENTATION = r"""
requirements:
  - "On the controller: the Python packages of the collection's C(requirements.txt) (C(jsonschema) checks every reply of a host)"
  - "Windows hosts: Windows Server 2016 or later with Windows PowerShell 5.1 on .NET Framework 4.5 or later,
    reached over C(winrm) or C(psrp) (C(pywinrm) or C(pypsrp) on the controller)"
  - "POSIX hosts: Python 3.9 or later"
attributes:
  platform:
    support: full
    platforms: [windows, posix]
    description:
      - Windows mail servers (their store layout is detected), and POSIX hosts such as a Linux definitions mirror
        (store paths given).
"""
