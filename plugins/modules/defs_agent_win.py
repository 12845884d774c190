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
  - C(apply) executes the controller's ordered list of primitive steps (lock, expect, preflight, clean, stage,
    matches, rename, exchange, write_pointer, retire, quarantine, event, service, unlock) and reports each step's
    outcome; see C(docs/changes.md). Renames, replacements and deletions are retried for a few seconds through
    antivirus filters; a junction or link is removed itself, never followed; C(definfo.dat) is replaced with
    C(ReplaceFile), which keeps its ACL and attributes; preflight opens the files of a named set exclusively to
    find out whether the scanner holds them before anything moves.
  - C(run_liveupdate) runs C(LuALL.exe) silently (the first of the request's candidate paths that exists), its
    arguments quoted by the Windows command-line rules, waits for it at most the request's C(timeout), then stops
    it and every process it started; the reply carries the end of its output.
  - With C(hashing) in the request, C(probe) also returns the SHA-256 of every file of every set (CNG), read with
    sharing that never blocks LiveUpdate or the product, and kept in a cache under
    C(%ProgramData%\mailsec-smsmse\hashes) (or the request's C(cache_dir)) with a protected DACL. An entry is
    keyed by path, size, last write time, NTFS change time and file ID, and expires after C(max_age_seconds)
    (spread per file).
  - C(probe) reads the SMSMSE product from the Uninstall keys in both registry views, every candidate
    store, and the product's events from the Application log with C(Get-WinEvent).
  - The code is C(defs_agent_win.ps1) with the module utils C(SmsmseStore.psm1), C(SmsmseProbe.psm1),
    C(SmsmseApply.psm1), C(StorePolicy.cs) and C(StoreNative.cs).
options:
  op:
    description: The operation to carry out.
    type: str
    required: true
    choices: [probe, apply, run_liveupdate]
extends_documentation_fragment:
  - mailsec.smsmse.agent
requirements:
  - "Windows Server 2016 or later with Windows PowerShell 5.1 on .NET Framework 4.5 or later"
attributes:
  check_mode:
    support: full
    description: C(probe) only reads; C(apply) and C(run_liveupdate) refuse to run in check mode (the action plugins plan instead).
  platform:
    platforms: windows
    support: full
    description: Windows Server 2016 or later with Windows PowerShell 5.1 on .NET Framework 4.5 or later (docs/windows.md).
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
