#!/usr/bin/python
# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the code is the action plugin plugins/action/defs_promote.py.

DOCUMENTATION = r"""
module: defs_promote
short_description: Install the newest good SMSMSE definition set into the scanner's store, atomically
version_added: 0.1.0
description:
  - Promotes a definition set into the O(target) store (by default CSAPI, the definitions the scanner uses) from a
    O(source) store or from O(source_path), as SMSMSE does every 10 minutes, but now, verified and atomically.
  - The source set is verified with the same rules as M(mailsec.smsmse.defs_verify) before anything is written.
  - "On the host: the store's lock is taken; C(definfo.dat) must still be what was read (compare-and-swap: SMSMSE's
    own copy job can race us); the set is copied into a staging folder inside the store, hashed while copying and
    compared with the verified manifest; the staging folder is renamed into place; C(definfo.dat) is replaced
    atomically, keeping its other keys; then old sets are retired. A crash at any moment leaves C(definfo.dat)
    naming a complete set, and the next run removes the leftovers."
  - "A bad copy of the chosen version in the target is replaced by the good one. When it is the active set, the two
    folders are swapped - in one step with C(renameat2) and C(RENAME_EXCHANGE) on Linux; elsewhere, and on Windows,
    in three renames, so that for an instant C(definfo.dat) names a missing folder (an agent killed there leaves it
    so, and the next run puts the old set back first). On Windows the scanner's files are released first:
    O(restart_service=true) stops the service around the swap, and without it a set whose files are held open is
    refused with C(ACTIVE_SET_IN_USE) before anything moves. The store never points at a known-bad folder in between."
  - Never promotes a version older than the target's active good version unless O(allow_downgrade=true); going down
    to a version the target holds is what M(mailsec.smsmse.defs_rollback) is for, and to one only a source store holds,
    O(allow_downgrade=true) with an explicit O(version). Either way the downgrade is recorded (RV(downgrade), event 1002).
  - "The same agent call ends with a read of the store: the task reports the change made only when that read shows
    C(definfo.dat) naming the chosen version in a folder holding exactly the verified bytes. When SMSMSE's copy job
    pointed the store elsewhere meanwhile, the task fails with C(CHANGE_CONFLICT) naming what the store names now
    (RV(changed) is true: the change was made, and undone by the product); run it again."
  - One agent call when nothing needs doing, two when something does.
extends_documentation_fragment:
  - mailsec.smsmse.hosts
  - mailsec.smsmse.stores
  - mailsec.smsmse.verify
  - mailsec.smsmse.change
options:
  target:
    description: The store to promote into.
    type: str
    choices: [csapi, hawking, smsmse_hawking]
    default: csapi
  source:
    description:
      - The store to promote from. Default the source store with the newest good set; when both hold it, the
        SMSMSE Hawking store (the product's own copy source on 64-bit systems).
    type: str
    choices: [hawking, smsmse_hawking, csapi]
  source_path:
    description:
      - A folder on the host holding sets (like a store) to promote from instead of O(source), for example an
        extracted Intelligent Updater package. It needs no C(definfo.dat).
    type: str
  version:
    description: C(newest_good), or the version to promote (C(YYYYMMDD.RRR)), which must be good.
    type: str
    default: newest_good
  allow_downgrade:
    description:
      - Install O(version) even when it is older than the target's good active set, for example a version only
        the Hawking store still holds. The result says RV(downgrade) and the collection writes event 1002 (a
        recorded downgrade). Without it such a version is refused with C(DOWNGRADE_REFUSED).
    type: bool
    default: false
    version_added: 0.2.0
  keep:
    description:
      - How many good sets to keep in the target, the new active one included. The active set and the
        previous good one are always kept, so the last good set is never deleted. Other sets are removed.
      - From 1 to 1000.
    type: int
    default: 2
attributes:
  check_mode:
    support: full
    description: Reports the plan and C(changed=true) where a change is due, and writes nothing.
  diff_mode:
    support: full
    description: Shows C(definfo.dat) before and after, and the sets added and removed.
  action_group:
    support: full
    membership: [mailsec.smsmse.defs]
    description: Use C(group/mailsec.smsmse.defs) in C(module_defaults) to set options once.
notes:
  - The collection's own events are written after each change (Windows Application log, source C(mailsec.smsmse);
    POSIX hosts, O(events_file)). Event 1000 is a promotion.
  - With a stale lock, a conflict or a source set that changes while it is copied, nothing is changed and the
    task fails with a code that says so (C(STORE_LOCKED), C(CHANGE_CONFLICT), C(SOURCE_CHANGED)); run it again.
  - Once the commit point is passed (the pointer switched, or the folders swapped), the result is C(changed=true)
    whatever follows; a later step that fails makes the task fail with C(CHANGE_PARTIAL), naming what is left to do.
seealso:
  - module: mailsec.smsmse.defs_verify
  - module: mailsec.smsmse.defs_rollback
author:
  - mailsec.smsmse developers (@mailsec)
"""

EXAMPLES = r"""
- name: Put the newest good Hawking set into CSAPI now
  mailsec.smsmse.defs_promote:

- name: The same, checked against a signed catalog, keeping three sets
  mailsec.smsmse.defs_promote:
    catalog: /etc/smsmse/catalog.json
    trusted_keys: "{{ smsmse_trusted_keys }}"
    keep: 3

- name: Put the scanner back on an older version that the Hawking store still holds (a recorded downgrade)
  mailsec.smsmse.defs_promote:
    version: '20261123.001'
    allow_downgrade: true

# requires: windows
- name: Promote a set extracted from an Intelligent Updater package
  mailsec.smsmse.defs_promote:
    source_path: 'D:\Staging\IU'
    version: '20261125.003'
    restart_service: true
"""

RETURN = r"""
changed:
  description: Whether the target was (or, in check mode, would be) changed.
  returned: always
  type: bool
store:
  description: The target store.
  returned: always
  type: str
  sample: csapi
version:
  description: The version the target is at afterwards.
  returned: always
  type: str
  sample: "20261125.003"
previous:
  description: The version the target was at before.
  returned: always
  type: str
  sample: "20261124.002"
source:
  description: The store the set came from.
  returned: when a change is due
  type: str
downgrade:
  description:
    - True when the target now points below its newest good version (O(allow_downgrade=true)); recorded as event 1002.
  returned: when a downgrade is due
  type: bool
  version_added: 0.2.0
removed:
  description: Sets retired from the target.
  returned: when a change is due
  type: list
  elements: str
installed:
  description: Whether a set was copied into the target (false when it was already there).
  returned: when changed, not in check mode
  type: bool
bytes_copied:
  description: Bytes copied (and hashed while copying).
  returned: when changed, not in check mode
  type: int
cleaned:
  description: Leftovers of interrupted runs that were removed.
  returned: when changed, not in check mode
  type: list
  elements: str
restored:
  description: Sets put back under their names, after a swap of two folders without an atomic exchange was interrupted.
  returned: when changed, not in check mode
  type: list
  elements: str
restarted:
  description: Whether the service was restarted.
  returned: when changed, not in check mode
  type: bool
error:
  description: On failure, the error's stable code, message and path.
  returned: failure
  type: dict
"""
