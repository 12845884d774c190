#!/usr/bin/python
# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the code is the action plugin plugins/action/defs_catalog_key.py.

DOCUMENTATION = r"""
module: defs_catalog_key
short_description: Create an Ed25519 key pair for signing SMSMSE definition catalogs
version_added: 0.1.0
description:
  - Creates an Ed25519 private key (PEM, PKCS#8, mode 0600) and its public key (PEM) on the controller,
    for M(mailsec.smsmse.defs_catalog) to sign catalogs with and M(mailsec.smsmse.defs_verify) to trust.
  - Runs on the controller whatever host the task targets; use it in a play for C(localhost) or with C(run_once).
  - The private key is mode 0600, and a folder created for it 0700, whatever the umask. An existing private key that
    others can read is refused (see O(allow_readable_key)).
  - An existing private key is kept; its public key file (mode 0644) is written when missing, when it holds another
    key, or when others can write to it.
options:
  path:
    description: The private key file.
    type: path
    required: true
  public_path:
    description: The public key file. Default O(path) with C(.pub) appended.
    type: path
  passphrase:
    description: Encrypt the private key with this passphrase (recommended for keys kept on disk).
    type: str
  allow_readable_key:
    description:
      - Go on, with a warning, when the existing private key at O(path) can be read by others (its mode allows group
        or other access). By default that fails with C(KEY_PERMISSIONS).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reports whether a key would be created, and writes nothing.
  diff_mode:
    support: none
    description: Key material is never shown.
author:
  - mailsec.smsmse developers (@mailsec)
"""

EXAMPLES = r"""
- name: A signing key for the operations team
  mailsec.smsmse.defs_catalog_key:
    path: /etc/smsmse/keys/ops1.key
    passphrase: "{{ vault_catalog_key_passphrase }}"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
keyid:
  description: The key ID (SHA-256 of the raw public key), as catalogs name their signers.
  returned: success
  type: str
public_key:
  description: The public key in PEM, for O(mailsec.smsmse.defs_verify#module:trusted_keys).
  returned: success
  type: str
public_path:
  description: Where the public key is.
  returned: success
  type: str
"""
