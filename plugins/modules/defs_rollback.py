#!/usr/bin/python
# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the code is the action plugin plugins/action/defs_rollback.py.

DOCUMENTATION = r"""
module: defs_rollback
short_description: Point an SMSMSE definition store back at a good set
version_added: 0.1.0
description:
  - Points a store (by default CSAPI) back at the previous good set when its active set is bad, as SMSMSE does
    itself on event 399/393, or at an explicit good version. The target set is verified with the same rules as
    M(mailsec.smsmse.defs_verify), and checked again on the host just before the pointer changes.
  - Under the store's lock, and only if C(definfo.dat) is still what was read (compare-and-swap); C(definfo.dat)
    is replaced atomically, keeping its other keys.
  - Going below the newest good version of the store happens only through this module, with O(to) set to a
    version; it is recorded as a downgrade in the result and in the event the collection writes.
  - With O(quarantine=true), every bad set of the store (the bad active set first among them) is moved out of the
    store, so the product cannot pick it up again; it is never deleted. A quarantine that could not be done (for
    example while the scanner holds the files) fails the task with C(CHANGE_PARTIAL) after the pointer moved, and
    the next run moves what is left.
  - "The same agent call ends with a read of the store: the task reports the change made only when that read shows
    C(definfo.dat) naming the chosen version in a folder holding exactly the verified bytes. When SMSMSE's copy job
    pointed the store elsewhere meanwhile, the task fails with C(CHANGE_CONFLICT) naming what the store names now
    (RV(changed) is true: the change was made, and undone by the product); run it again."
extends_documentation_fragment:
  - mailsec.smsmse.hosts
  - mailsec.smsmse.stores
  - mailsec.smsmse.verify
  - mailsec.smsmse.change
options:
  store:
    description: The store to roll back.
    type: str
    choices: [csapi, hawking, smsmse_hawking]
    default: csapi
  to:
    description:
      - C(previous_good) rolls back only when the active set is not good, to the newest good set older than it.
        A good active set is left alone, so that running the task again changes nothing. When the store holds no good
        set older than the active one, nothing changes and the message says so (M(mailsec.smsmse.defs_promote) then
        replaces the active set with the newest good one).
      - A version (C(YYYYMMDD.RRR)) points the store at that set, which must be good, whatever the active set is.
    type: str
    default: previous_good
  quarantine:
    description: Move every bad set of the store out of it (into O(quarantine_dir)); never deletes them.
    type: bool
    default: false
  quarantine_dir:
    description:
      - Where quarantined sets go, on the same volume as the store. Default C(mailsec-smsmse-quarantine) beside the store.
      - A full path on the host; a relative one is refused (C(OPTION_INVALID)).
    type: str
attributes:
  check_mode:
    support: full
    description: Reports the plan and C(changed=true) where a change is due, and writes nothing.
  diff_mode:
    support: full
    description: Shows C(definfo.dat) before and after, and the sets quarantined.
  action_group:
    support: full
    membership: [mailsec.smsmse.defs]
    description: Use C(group/mailsec.smsmse.defs) in C(module_defaults) to set options once.
notes:
  - Events written (Windows Application log, source C(mailsec.smsmse); POSIX hosts, O(events_file)) are
    1001 (rolled back), 1002 (rolled back below the newest good version) and 1003 (set quarantined).
seealso:
  - module: mailsec.smsmse.defs_verify
  - module: mailsec.smsmse.defs_promote
author:
  - mailsec.smsmse developers (@mailsec)
"""

EXAMPLES = r"""
- name: Roll CSAPI back when its active set is bad, and keep the bad set away from the scanner
  mailsec.smsmse.defs_rollback:
    quarantine: true

- name: Go back to a known version on purpose (recorded as a downgrade)
  mailsec.smsmse.defs_rollback:
    to: '20261123.001'
"""

RETURN = r"""
changed:
  description: Whether the store was (or, in check mode, would be) changed.
  returned: always
  type: bool
store:
  description: The store.
  returned: always
  type: str
version:
  description: The version the store points at afterwards.
  returned: always
  type: str
previous:
  description: The version it pointed at before.
  returned: always
  type: str
downgrade:
  description: Whether the store now points below its newest good version.
  returned: when a change is due
  type: bool
quarantined:
  description: Where quarantined sets went.
  returned: when changed, not in check mode
  type: list
  elements: str
proof:
  description:
    - When nothing was rolled back, what proved the active set's verdict (C(catalog), C(consensus) or
      C(structure)). With C(structure) the message says the set is good by structure alone - no catalog or fleet
      vote proved its bytes - rather than calling it proven (docs/trust.md).
  returned: when nothing is rolled back
  type: str
  version_added: 0.2.0
error:
  description: On failure, the error's stable code, message and path.
  returned: failure
  type: dict
"""
