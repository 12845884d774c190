#!/usr/bin/python
# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the code is defs_agent_win.ps1 beside this file.

DOCUMENTATION = r"""
module: defs_agent_win
short_description: Internal agent of the mailsec.smsmse modules on Windows hosts
version_added: 0.1.0
description:
  - The target half of the C(mailsec.smsmse.defs_*) modules on Windows hosts, in Windows PowerShell 5.1.
    The action plugins call it over WinRM or PSRP; do not use it in playbooks.
  - It carries out one operation of the agent contract (the JSON Schemas under C(schemas/agent/))
    per call and reports what it finds. Every decision is made on the controller.
  - C(install_set) copies a verified set into a store (staged, hashed while copying, renamed into place) and replaces
    C(definfo.dat) with C(MoveFileEx) (C(StoreNative.cs)); C(set_pointer) points a store at a set it holds and can move
    bad sets to quarantine. The store's lock is an open handle with C(DeleteOnClose), so a crashed run never leaves it
    behind. Events go to the Application log under the source C(mailsec.smsmse).
  - C(run_liveupdate) runs C(LuALL.exe) silently (the first of the request's candidate paths that exists) and waits
    for it at most the request's C(timeout), then stops it.
  - With C(hashing) in the request, C(probe) also returns the SHA-256 of every file of every set, read with a
    1 MiB buffer and kept in a cache under C(%ProgramData%\mailsec-smsmse\hashes) (or the request's C(cache_dir)),
    keyed by path, size, modification time and NTFS file ID (C(StoreNative.cs)).
  - C(probe) reads the SMSMSE product from the Uninstall keys in both registry views, every candidate
    store, and the product's events from the Application log with C(Get-WinEvent).
extends_documentation_fragment:
  - mailsec.smsmse.agent
requirements:
  - "Windows PowerShell 5.1 on .NET Framework 4.5 or later"
attributes:
  check_mode:
    support: full
    description: C(probe) only reads; the changing operations refuse to run in check mode (the action plugins plan instead).
  platform:
    platforms: windows
    support: full
    description: Windows PowerShell 5.1 on .NET Framework 4.x.
author:
  - mailsec.smsmse developers (@mailsec)
seealso:
  - module: mailsec.smsmse.defs_facts
"""

EXAMPLES = r"""
# Internal: the action plugins call this module. For the facts, use:
- name: Inventory the definition stores
  mailsec.smsmse.defs_facts:
"""

RETURN = r"""
reply:
  description: The operation's reply, as its JSON Schema describes it.
  returned: success
  type: dict
"""
