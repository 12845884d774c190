#!/usr/bin/python
# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the code is the action plugin plugins/action/defs_import.py.

DOCUMENTATION = r"""
module: defs_import
short_description: Bring one SMSMSE definition set from a distribution point into a store, proven by the signed catalog
version_added: 0.2.0
description:
  - Brings one version from a distribution point (O(source)) into a store of the host, by default the source store
    the product copies CSAPI from (SMSMSE Hawking where it exists, else Hawking), as LiveUpdate would; the product (or
    M(mailsec.smsmse.defs_promote), or the C(defs_health) role) then takes it into CSAPI.
  - A distribution point is a folder holding set folders named by version (C(20261215.003/...), as the vendor extracts
    them), served as it is over HTTPS or HTTP, or mounted on the host. The README shows how to publish one from the
    trusted reference sets and the catalog in one play.
  - "Only with proof: O(catalog) is required, and the set goes in only when every file matches the catalog's name, size
    and SHA-256. The host pulls the files itself (the controller relays nothing): each file is streamed into a staging
    folder inside the store while it is hashed, never more than its catalogued size + 1 bytes are read, and the first
    file that differs ends the import with nothing of the set kept. A staging folder is never a set's name, so the
    product's copy job cannot take a set that is still arriving. Once the set is on disk, every file is read back from
    the store and compared with the catalog again (an antivirus filter may clean, cut or remove a file just written;
    C(READ_BACK_MISMATCH): exclude the stores from other antivirus products' on-access scanning)."
  - The set then goes in as any promotion does, under the store's lock and compare-and-swap on C(definfo.dat)
    (renamed into place; a bad copy of the version is swapped out and retired), and the store's pointer is switched
    to it unless the store is at a newer good set. Event 1000 is written when the pointer moves.
  - HTTPS offers TLS 1.2 or later (the Windows agent tells .NET to, as Windows PowerShell 5.1 does not by itself) and
    checks the certificate (O(validate_certs), O(ca_path)); a redirect is followed only within the URL's own scheme,
    host and port. The Windows agent goes through the process's default proxy, or O(proxy); the POSIX agent connects directly.
  - "Windows hosts also read a UNC share (C(\\\\server\\share\\smsmse)), with the identity the agent runs as. Over WinRM
    or PSRP that identity cannot reach a share by itself (the second hop): run the task with C(become) (C(become_user:
    SYSTEM), so that the host reads the share as its computer account C(DOMAIN\\HOST$), and grant that account read on
    the share and its folders), or allow delegation (CredSSP, Kerberos delegation); an access-denied share is refused
    (C(SOURCE_UNREACHABLE)) with that fix. See C(docs/windows.md)."
requirements:
  - "On the controller: the Python packages of the collection's C(requirements.txt) (C(jsonschema) checks every reply of a host)"
  - "POSIX hosts: Python 3.9 or later"
extends_documentation_fragment:
  - mailsec.smsmse.stores
  - mailsec.smsmse.verify
  - mailsec.smsmse.change
options:
  source:
    description:
      - The distribution point - an C(https://) or C(http://) URL, a UNC path (C(\\server\share\folder), Windows
        hosts), or a full folder path (POSIX hosts) - that holds one folder per version.
      - A URL with a user name or password, a query (C(?...)) or a fragment (C(#...)) is refused (C(OPTION_INVALID)),
        before the host is touched - a source is shown in messages and reports. Serve the distribution point to the
        hosts without a login; the catalog proves every file.
    type: str
    required: true
  version:
    description:
      - C(newest) (the newest version the catalog lists), or the version to bring (C(YYYYMMDD.RRR)), which the catalog must list.
      - A catalog entry that fails the structure checks (no C(zdone.dat), a file of O(required_files) missing, an empty,
        temporary or reserved file name, two names that are one to Windows) is never imported - C(newest) passes over it,
        and asking for it is refused (C(CATALOG_INVALID)) before the host is touched.
    type: str
    default: newest
  store:
    description: The store to bring the set into. Default the source store the product copies CSAPI from.
    type: str
    choices: [hawking, smsmse_hawking, csapi]
  validate_certs:
    description: Check the HTTPS server's certificate. Turn it off for a test only; the catalog still proves every byte.
    type: bool
    default: true
  ca_path:
    description: A PEM file of CA certificates on the host, used instead of the system's to check the server's certificate.
    type: str
  proxy:
    description:
      - Windows hosts - the proxy to reach a URL O(source) through (C(http://host:port); an C(https://) proxy is
        refused, as .NET Framework speaks plain HTTP to a proxy), instead of the process's default proxy
        (C(machine.config), else the proxy settings of the account the agent runs as). No credentials - this proxy is
        answered with the identity the agent runs as (Kerberos or NTLM). The default proxy is never given that
        identity, so a default proxy that asks for credentials must be named here. Over WinRM or PSRP that identity
        reaches no second host - use C(become) (SYSTEM answers as the computer account), CredSSP or delegation.
      - Refused (C(OPTION_INVALID)) for POSIX hosts, whose agent connects directly.
    type: str
  timeout:
    description:
      - How long the host waits for the server to connect or to send more bytes, in seconds.
      - From 1 to 86400.
    type: int
    default: 60
  deadline:
    description:
      - How long the whole set may take to arrive, in seconds. When it passes, the host cuts its connections to the
        server, or stops waiting for a folder source that does not answer (a hung mount), and the set is refused
        (C(SOURCE_TIMEOUT)).
      - From 1 to 86400.
    type: int
    default: 3600
attributes:
  platform:
    support: full
    platforms: [posix, windows]
    description:
      - Windows hosts take URL and UNC sources; POSIX hosts, such as a Linux definitions mirror (store paths given),
        take URL and folder sources. Any other source is refused (C(SOURCE_NOT_SUPPORTED)) before the host is touched.
  check_mode:
    support: full
    description: Reports the plan and C(changed=true) where a change is due, and fetches and writes nothing.
  diff_mode:
    support: full
    description: Shows C(definfo.dat) before and after, and the set added.
notes:
  - Idempotent - a store that holds a good copy of the version (and points at it, or at a newer good set) is not changed.
  - Refusals name the source and end with the fix - C(SOURCE_NOT_FOUND), C(SOURCE_MISMATCH), C(SOURCE_TIMEOUT),
    C(SOURCE_REDIRECT), C(SOURCE_TLS), C(SOURCE_UNREACHABLE); without a catalog, C(CATALOG_REQUIRED) before the host is touched.
seealso:
  - module: mailsec.smsmse.defs_catalog
  - module: mailsec.smsmse.defs_promote
author:
  - mailsec.smsmse developers (@mailsec)
"""

EXAMPLES = r"""
# A distribution point served over HTTPS is given the same way, with the CA that signed its certificate:
#   source: https://defs.example.com/smsmse
#   ca_path: /etc/pki/smsmse-ca.pem
# On Windows servers, a file share is read as the server's computer account when the task runs as SYSTEM
# (grant DOMAIN\HOST$ read on the share; docs/windows.md, "Distribution points"):
#   source: '\\files.example.com\smsmse'
#   become: true
#   become_method: ansible.builtin.runas
#   become_user: SYSTEM
- name: Bring the newest catalogued set from a mounted distribution point into the product's source store
  mailsec.smsmse.defs_import:
    source: /srv/smsmse-distpoint
    catalog: /etc/smsmse/catalog.json
    trusted_keys: "{{ smsmse_trusted_keys }}"
  register: imported

- name: Then put it into CSAPI now, rather than at the product's next copy
  mailsec.smsmse.defs_promote:
    catalog: /etc/smsmse/catalog.json
    trusted_keys: "{{ smsmse_trusted_keys }}"
  when: imported is changed
"""

RETURN = r"""
changed:
  description: Whether the store was (or, in check mode, would be) changed.
  returned: always
  type: bool
store:
  description: The store the set was brought into.
  returned: always
  type: str
  sample: hawking
version:
  description: The version the store points at afterwards.
  returned: always
  type: str
  sample: "20261125.003"
previous:
  description: The version the store pointed at before.
  returned: always
  type: str
source:
  description: The set's folder on the distribution point.
  returned: always
  type: str
  sample: https://defs.example.com/smsmse/20261125.003
imported:
  description: Whether the set is (or, in check mode, would be) fetched; false when a good copy was there.
  returned: when a change is due
  type: bool
bytes:
  description: The size of the set to fetch, from the catalog.
  returned: when a change is due
  type: int
error:
  description: On failure, the error's stable code, message and path.
  returned: failure
  type: dict
"""
