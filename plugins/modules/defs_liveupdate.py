#!/usr/bin/python
# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the code is the action plugin plugins/action/defs_liveupdate.py.

DOCUMENTATION = r"""
module: defs_liveupdate
short_description: Run LiveUpdate on an SMSMSE server and wait for it
version_added: 0.1.0
description:
  - Runs LiveUpdate silently, as SMSMSE does itself when no valid definitions are left (event 400/394), and waits
    for it at most O(timeout) seconds. On Windows this is C(LuALL.exe); on POSIX hosts, O(command).
  - Not in the action group C(group/mailsec.smsmse.defs), whose members share store options this module does not take.
  - LiveUpdate writes the Hawking structure; verify and promote afterwards
    (M(mailsec.smsmse.defs_verify), M(mailsec.smsmse.defs_promote)), as the C(defs_health) role does.
options:
  command:
    description:
      - On POSIX hosts, the command that updates the Hawking store, run without a shell. Either a list of arguments,
        like C(argv) of M(ansible.builtin.command), or one string split into arguments as a shell would split it,
        like C(cmd), without expanding variables, globs or redirections.
      - When the task (or C(module_defaults)) does not give it, the host variable C(smsmse_defs_liveupdate_command)
        is used.
    type: raw
  luall_path:
    description:
      - On Windows, where C(LuALL.exe) is. Default the standard LiveUpdate folders under C(%ProgramFiles(x86)%)
        and C(%ProgramFiles%).
    type: str
  arguments:
    description: On Windows, the arguments of C(LuALL.exe).
    type: list
    elements: str
    default: ['-s']
  timeout:
    description: How long to wait, in seconds; LiveUpdate is stopped after that. From 1 to 86400.
    type: int
    default: 1800
extends_documentation_fragment:
  - mailsec.smsmse.hosts
requirements:
  - "Windows hosts: LiveUpdate (C(LuALL.exe)) installed with SMSMSE"
  - "POSIX hosts: the program O(command) names"
attributes:
  check_mode:
    support: full
    description: Reports that LiveUpdate would run, and runs nothing.
  diff_mode:
    support: none
    description: Nothing to show.
author:
  - mailsec.smsmse developers (@mailsec)
"""

EXAMPLES = r"""
- name: Fetch definitions now
  mailsec.smsmse.defs_liveupdate:
    timeout: 900
"""

RETURN = r"""
exit_code:
  description: LiveUpdate's exit code.
  returned: when it ran
  type: int
duration:
  description: How long it ran, in seconds.
  returned: when it ran
  type: float
program:
  description: What was run.
  returned: when found
  type: str
output:
  description: The end of what it printed (POSIX hosts).
  returned: when it ran
  type: str
"""
