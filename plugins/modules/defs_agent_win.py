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
  - This module serves C(probe) only, and carries no change code; C(apply) and C(run_liveupdate) are served by
    M(mailsec.smsmse.defs_agent_win_change), the same shim and engine with the change code (C(SmsmseEngineApply.cs)).
  - With C(hashing) in the request, C(probe) also returns the SHA-256 of every file of every set (CNG), read with
    sharing that never blocks LiveUpdate or the product, and kept in a cache under
    C(%ProgramData%\mailsec-smsmse\hashes) (or the request's C(cache_dir)) with a protected DACL. An entry is
    keyed by path, size, last write time, NTFS change time and file ID, and expires after C(max_age_seconds)
    (spread per file).
  - C(probe) reads the SMSMSE product from the Uninstall keys in both registry views, every candidate
    store (with its privacy under the request's C(privacy) policy), and the product's events from the Application log.
    In check mode it neither creates nor rewrites the hash cache.
  - The code is a shim, C(defs_agent_win.ps1), over the C# engine C(SmsmseEngine.cs)
    with its Windows host C(SmsmseEngineWin.cs) (C(StorePolicy.cs), C(StoreNative.cs)). The same engine runs
    under Mono in the collection's tests against the shared case tables of both agents.
options:
  op:
    description: The operation to carry out.
    type: str
    required: true
    choices: [probe]
extends_documentation_fragment:
  - mailsec.smsmse.agent_win
attributes:
  check_mode:
    support: full
    description: C(probe) only reads; in check mode it neither creates nor rewrites the hash cache.
  platform:
    platforms: windows
    support: full
    description: Windows Server 2016 or later with Windows PowerShell 5.1 on .NET Framework 4.5 or later (docs/windows.md).
author:
  - mailsec.smsmse developers (@mailsec)
seealso:
  - module: mailsec.smsmse.defs_facts
  - module: mailsec.smsmse.defs_agent_win_change
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
