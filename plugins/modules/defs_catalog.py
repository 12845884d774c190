#!/usr/bin/python
# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the code is the action plugin plugins/action/defs_catalog.py.

DOCUMENTATION = r"""
module: defs_catalog
short_description: Build and sign a known-good catalog of SMSMSE definition sets
version_added: 0.1.0
description:
  - Builds a catalog of trusted reference sets on the controller (every file's relative path, size and SHA-256,
    and the set digest, per version) and signs it with one or more Ed25519 keys, for M(mailsec.smsmse.defs_verify).
  - A reference set is a folder named after its version that holds the set as it should be on every server,
    for example extracted from a vendor-signed Intelligent Updater package on a staging machine. It must pass the
    structural checks of M(mailsec.smsmse.defs_verify) before it is signed.
  - Runs on the controller whatever host the task targets.
  - Idempotent. An existing catalog that lists the same sets, is signed by exactly these keys and does not expire
    within O(renew_before_days) is left alone. Otherwise a new catalog is written atomically with a higher
    sequence number.
options:
  dest:
    description: The catalog file to write.
    type: path
    required: true
  sets:
    description: The reference set folders, each named after its version (C(YYYYMMDD.RRR)).
    type: list
    elements: path
    required: true
  signing_keys:
    description: The private keys to sign with (made by M(mailsec.smsmse.defs_catalog_key)).
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: The private key file.
        type: path
        required: true
      passphrase:
        description: Its passphrase, when it is encrypted.
        type: str
  expires_days:
    description: How many days the catalog stays valid.
    type: int
    default: 30
  renew_before_days:
    description: Sign a new catalog when the existing one expires within this many days.
    type: int
    default: 7
  sequence:
    description:
      - The sequence number of a new catalog, from 0 to 9007199254740991 (2^53 - 1, the catalog schema's bound).
      - Default one more than the highest already used - the sequence of the existing O(dest) when one of O(signing_keys)
        signed it (an unsigned or foreign sequence in O(dest) is ignored, with a warning), and the one in O(catalog_state) - or 1.
      - Lower than that is refused, since verifiers reject it.
    type: int
  catalog_state:
    description:
      - The file where verifiers keep the highest catalog sequence they accepted (their O(mailsec.smsmse.defs_verify#module:catalog_state)),
        when it is on this controller. The new catalog's sequence is never lower than the one it holds.
    type: path
  required_files:
    description: Files every reference set must hold, as in M(mailsec.smsmse.defs_verify).
    type: list
    elements: str
    default: [zdone.dat, virscan1.dat, naveng32.dll, navex32a.dll]
attributes:
  check_mode:
    support: full
    description: Reports whether a new catalog would be written, and writes nothing.
  diff_mode:
    support: full
    description: Shows the versions added and removed, and the sequence before and after.
author:
  - mailsec.smsmse developers (@mailsec)
"""

EXAMPLES = r"""
- name: Find the sets extracted on the staging machine
  ansible.builtin.find:
    paths: /srv/reference
    file_type: directory
    patterns: "????????.???"
  register: reference
  delegate_to: localhost
  run_once: true

- name: Sign a catalog of them
  mailsec.smsmse.defs_catalog:
    dest: /etc/smsmse/catalog.json
    sets: "{{ reference.files | map(attribute='path') | list }}"
    signing_keys:
      - path: /etc/smsmse/keys/ops1.key
        passphrase: "{{ vault_ops1_passphrase }}"
      - path: /etc/smsmse/keys/sec1.key
        passphrase: "{{ vault_sec1_passphrase }}"
    expires_days: 14
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
dest:
  description: The catalog file.
  returned: success
  type: str
sequence:
  description: The catalog's sequence number.
  returned: success
  type: int
expires:
  description: When the catalog expires (UTC).
  returned: success
  type: str
versions:
  description: The versions the catalog lists.
  returned: success
  type: list
  elements: str
signed_by:
  description: The key IDs that signed it.
  returned: success
  type: list
  elements: str
"""
