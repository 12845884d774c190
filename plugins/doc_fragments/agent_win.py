# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """The options both Windows agent modules (defs_agent_win, defs_agent_win_change) take besides ``op``."""

    DOCUMENTATION = r"""
options:
  request:
    description:
      - The operation's request, as its JSON Schema (C(schemas/agent/)) describes it.
      - One of O(request) and O(request_json) is required.
    type: dict
  request_json:
    description:
      - The request as one JSON string, which the engine parses itself. The action plugins send this form, since
        Windows PowerShell 5.1 refuses module arguments holding keys that differ only in case (a manifest naming
        C(VIRSCAN1.DAT) and C(virscan1.dat)).
    type: str
    version_added: 0.2.0
  deadline_seconds:
    description:
      - The host-side deadline of one call, in seconds, so that one host never stalls the run. A probe still running
        then ends the call failed, naming it, and stops at its next file without writing its hash cache. A change is
        never cut short part way - C(apply) asks the deadline before each step and, once it has passed, skips the
        later steps not marked C(always), naming the deadline (a store's steps from its service stop to its start run
        as one unit, which ends when the start has run, whatever it ended), releases its locks, starts what it stopped
        and reads the stores back; C(run_liveupdate) is bounded by its own C(timeout). The deadline is measured on a
        monotonic clock, never the wall clock.
      - The action plugins send a change the time its steps are allowed (fetch deadlines, service and LiveUpdate
        timeouts) plus 600 seconds, and never less than the default.
    type: int
    default: 3600
    version_added: 0.2.0
requirements:
  - "Windows Server 2016 or later with Windows PowerShell 5.1 on .NET Framework 4.5 or later"
"""
