#!/usr/bin/python
# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the code is the action plugin plugins/action/defs_verify.py.

DOCUMENTATION = r"""
module: defs_verify
short_description: Decide whether every SMSMSE definition set of a host is good, and why not
version_added: 0.1.0
description:
  - For every definition set in every store of the host (Hawking, SMSMSE Hawking, CSAPI), decides whether the set
    is C(good), C(bad) or C(unknown), with every reason as an error code, message and path. One agent call per host.
  - "Structure: the folder name is a valid version, C(zdone.dat) is present, the O(required_files) are present,
    no file is empty or temporary, nothing is a link or junction or a path leading out of the store, and every file
    could be read."
  - A verdict of C(good) must be proven. The rules apply in this order (the collection's C(docs/trust.md) says why).
  - "1. Structure: the folder name is a version (ASCII C(YYYYMMDD.RRR), matched whole), C(zdone.dat) is present, the
    O(required_files) are present, no file is empty or temporary, nothing is a link or junction or a path leading
    out of the store, no two file names are one name to Windows (the same under case folding, or once NTFS drops
    trailing dots and spaces), and every file could be read."
  - "Integrity: the agent computes the SHA-256 of every file, streamed, with a cache it keeps outside the Symantec
    folders (keyed by path, size, modification time, change time and file ID, and expiring after
    O(hash_cache_max_age_days)). O(deep=true) ignores the cache."
  - "2. Authenticity, with O(catalog): the set must match, file by file and by exact name, a catalog signed by at
    least O(signature_threshold) of the O(trusted_keys), not expired, and not older than the last catalog accepted
    (O(catalog_state)). A version the catalog does not list is C(unknown)."
  - "3. Fleet consensus (the C(mailsec.smsmse.defs_consensus) filter, the C(defs_health) role): only copies that
    passed rules 1 and 2 vote; each host has one vote per version, the digest its sound copies agree on (a host whose
    sound copies disagree abstains); a version is decided when at least 3 hosts vote and one digest has more than
    the threshold (default half) of the votes; then every copy with another digest is C(bad) (C(CONSENSUS_MINORITY))."
  - "4. The source rule: when two stores of the host hold the same version with different bytes and neither is bad
    by rules 1 to 3, the copy in the store the product copies from wins (SMSMSE Hawking, then Hawking, then CSAPI);
    each copy that differs from it is C(bad) (C(SET_COPY_DIFFERS), naming both paths)."
  - The results are returned and also set as C(ansible_facts.smsmse_defs), the facts of M(mailsec.smsmse.defs_facts)
    with C(verification) added.
extends_documentation_fragment:
  - mailsec.smsmse.hosts
  - mailsec.smsmse.stores
  - mailsec.smsmse.verify
requirements:
  - "On the controller, with a O(catalog): C(cryptography) (in C(requirements.txt)) checks its signatures"
attributes:
  check_mode:
    support: full
    description: Reads only; in check mode the O(catalog_state) is read but not raised.
  diff_mode:
    support: none
    description: Changes nothing on the host.
  action_group:
    support: full
    membership: [mailsec.smsmse.defs]
    description: Use C(group/mailsec.smsmse.defs) in C(module_defaults) to set options once.
notes:
  - The hash cache makes a second run read no bytes of unchanged files. The cache is never trusted across a
    change of size, modification time, change time or file ID (restoring a file's modification time after changing
    it does not fool it), and every entry expires within O(hash_cache_max_age_days).
  - A damaged C(definfo.dat) does not fail the task; the store's C(active.status) is C(bad) with the reason.
  - Every error code is listed in the collection's C(docs/errors.md) with its remediation.
seealso:
  - module: mailsec.smsmse.defs_facts
  - module: mailsec.smsmse.defs_catalog
author:
  - mailsec.smsmse developers (@mailsec)
"""

EXAMPLES = r"""
- name: Verify the structure and hashes of every set
  mailsec.smsmse.defs_verify:
  register: verified

- name: Fail when the scanner's active set is not good
  ansible.builtin.assert:
    that: verified.active.csapi.status == 'good'
    fail_msg: "{{ verified.active.csapi.errors | map(attribute='message') | join('; ') }}"

- name: Verify against a signed catalog (two of three keys must have signed it)
  mailsec.smsmse.defs_verify:
    catalog: /etc/smsmse/catalog.json
    trusted_keys:
      - "{{ lookup('ansible.builtin.file', '/etc/smsmse/keys/ops1.key.pub') }}"
      - "{{ lookup('ansible.builtin.file', '/etc/smsmse/keys/ops2.key.pub') }}"
      - "{{ lookup('ansible.builtin.file', '/etc/smsmse/keys/sec1.key.pub') }}"
    signature_threshold: 2
    catalog_state: /var/lib/smsmse/catalog-state.json

- name: Read every byte again, ignoring the cache
  mailsec.smsmse.defs_verify:
    deep: true
"""

RETURN = r"""
sets:
  description: Every set in every store, with its verdict.
  returned: success
  type: list
  elements: dict
  contains:
    store:
      description:
        - The store (C(hawking), C(smsmse_hawking), C(csapi)), or C(source) for the
          O(mailsec.smsmse.defs_promote#module:source_path) of M(mailsec.smsmse.defs_promote).
      type: str
    version:
      description: The set version (folder name).
      type: str
    path:
      description: The set folder on the host.
      type: str
    status:
      description: C(good), C(bad) or C(unknown) (the catalog does not list the version), after every rule.
      type: str
    checked:
      description:
        - The verdict of the copy's own checks (structure, and the catalog when configured) alone. Only copies
          checked C(good) or C(unknown) vote in fleet consensus.
      type: str
    proof:
      description:
        - What proved the verdict - C(catalog) (a trusted catalog lists the version and was compared with every
          byte), C(consensus) (a decided fleet vote), or C(structure) (only the structure rules; nothing proved the
          bytes). A C(good) copy with C(structure) is good by structure alone (docs/trust.md).
      type: str
      choices: [catalog, consensus, structure]
      version_added: 0.2.0
    errors:
      description: Every problem, each with C(code), C(message) and C(path).
      type: list
      elements: dict
    digest:
      description: SHA-256 over the set's manifest (path, size and SHA-256 of every file); null when a file could not be hashed.
      type: str
    files:
      description: Number of files.
      type: int
    bytes:
      description: Total size.
      type: int
  sample:
    - store: csapi
      version: "20261125.003"
      path: 'C:\Program Files (x86)\Common Files\Symantec Shared\definitions\AntiVirus\20261125.003'
      status: bad
      checked: bad
      proof: catalog
      errors:
        - code: CATALOG_HASH_MISMATCH
          message: virscan1.dat in set 20261125.003 does not have the catalog's SHA-256.
          path: 'C:\Program Files (x86)\Common Files\Symantec Shared\definitions\AntiVirus\20261125.003\virscan1.dat'
      digest: 3f0c...
      files: 7
      bytes: 17158
active:
  description:
    - Per store, the set C(definfo.dat) names (C(version)), its C(status), C(proof) (as in RV(sets)) and C(errors).
    - C(status) is the set's (C(good), C(bad), C(unknown)), C(bad) when the pointer names no set of the store or
      C(definfo.dat) is damaged, and C(none) when there is no pointer.
  returned: success
  type: dict
newest_good:
  description: The newest good version per store, and C(overall) across stores (null when none is good).
  returned: success
  type: dict
  sample: {"hawking": "20261125.003", "csapi": "20261124.002", "overall": "20261125.003"}
hash_stats:
  description:
    - C(files_hashed), C(bytes_hashed), C(files_cached), C(bytes_cached) across stores, and C(cache_errors).
    - C(cache_refused) lists why a store's hash cache was not used (another user could have written it); each is also a warning.
  returned: success
  type: dict
catalog:
  description: The catalog used (C(sequence), C(expires), C(versions), C(signed_by) key IDs), or null.
  returned: success
  type: dict
assessment:
  description:
    - The host as this task read and judged it, described by C(schemas/assessment.json) - C(snapshot) (the stores,
      sets, files with their SHA-256, C(definfo.dat) and C(usage.dat) as parsed once from the agent's reply),
      C(overrides) (the store paths it was read with), C(facts), C(verification) (these results), C(marks),
      C(decision) and C(checks) (null and empty here; the C(defs_health) role's fleet step fills them in).
    - The raw agent reply is not kept. Pass this to the O(mailsec.smsmse.defs_promote#module:state) option of
      M(mailsec.smsmse.defs_promote) or M(mailsec.smsmse.defs_rollback) to spare them another read of the host.
  returned: success
  type: dict
  version_added: 0.2.0
ansible_facts:
  description: C(smsmse_defs), as M(mailsec.smsmse.defs_facts) returns it, with these results under C(verification).
  returned: success
  type: dict
error:
  description: On failure, the error's stable code, message and path.
  returned: failure
  type: dict
"""
