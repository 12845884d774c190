#!/usr/bin/python
# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the code is defs_agent_win_change.ps1 beside this file.

DOCUMENTATION = r"""
module: defs_agent_win_change
short_description: Internal agent of the mailsec.smsmse modules on Windows hosts, for changes
version_added: 0.2.0
description:
  - The target half of the C(mailsec.smsmse.defs_*) modules on Windows hosts, in Windows PowerShell 5.1.
    The action plugins call it over WinRM or PSRP; do not use it in playbooks.
  - It carries out one operation of the agent contract (the JSON Schemas under C(schemas/agent/))
    per call and reports what it finds. Every decision is made on the controller.
  - This module serves C(apply) and C(run_liveupdate); C(probe) is served by M(mailsec.smsmse.defs_agent_win),
    the same shim and engine without the change code, so that a probe neither sends nor compiles it.
  - C(apply) executes the controller's ordered list of primitive steps (lock, expect, preflight, clean, stage, fetch,
    matches, rename, exchange, write_pointer, retire, quarantine, event, service, unlock) and reports each step's
    outcome; see C(docs/changes.md). Renames, replacements and deletions are retried through antivirus filters
    within a budget that grows with the size of a freshly staged set (access denied is not retried); a junction or
    link is removed itself, never followed; C(definfo.dat) is replaced with C(ReplaceFile), which keeps its ACL and
    attributes; preflight asks the Restart Manager, within the same budget, whether the scanner holds a named set
    before anything moves; a staged set is read back from the store before anything can point to it; a stop of the
    scanner's service is recorded on the host first (and a one-shot scheduled task starts it if the agent dies),
    so that any later call starts a service a dead run left stopped.
  - C(run_liveupdate) runs C(LuALL.exe) silently (the first of the request's candidate paths that exists), its
    arguments quoted by the Windows command-line rules, waits for it at most the request's C(timeout), then stops
    it and every process it started; the reply carries the end of its output.
  - Any call, as any probe, first starts a scanner service that a run which died left stopped, and says so in the
    reply's C(warnings).
  - The code is a shim, C(defs_agent_win_change.ps1), over the C# engine C(SmsmseEngine.cs) with its change code
    C(SmsmseEngineApply.cs) and its Windows host C(SmsmseEngineWin.cs) (C(StorePolicy.cs), C(StoreNative.cs)).
    The same engine runs under Mono in the collection's tests against the shared case tables of both agents.
options:
  op:
    description: The operation to carry out.
    type: str
    required: true
    choices: [apply, run_liveupdate]
extends_documentation_fragment:
  - mailsec.smsmse.agent_win
attributes:
  check_mode:
    support: none
    description:
      C(apply) and C(run_liveupdate) change the host and refuse to run in check mode, naming the reason; the action plugins
      plan instead.
  platform:
    platforms: windows
    support: full
    description: Windows Server 2016 or later with Windows PowerShell 5.1 on .NET Framework 4.5 or later (docs/windows.md).
author:
  - mailsec.smsmse developers (@mailsec)
seealso:
  - module: mailsec.smsmse.defs_facts
  - module: mailsec.smsmse.defs_agent_win
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
