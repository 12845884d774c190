#!/usr/bin/python
# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the code is the action plugin plugins/action/defs_facts.py.

DOCUMENTATION = r"""
module: defs_facts
short_description: Report the SMSMSE virus definition stores of a host
version_added: 0.1.0
description:
  - Inventories the virus definition stores of Symantec Mail Security for Microsoft Exchange (SMSMSE)
    on a host in one agent call. It reports the product and its version, every store that exists (Hawking,
    SMSMSE Hawking, CSAPI), the set each store's C(definfo.dat) names as active, every definition
    set with its completeness marker, file count and size, and the product's recent definition events.
  - On Windows the stores are detected from the vendor's layout for the host's platform
    (32-bit, Windows Server 2003 x64, Windows Server 2008 and later). On other hosts, such as a
    Linux definitions mirror, give the stores with O(stores).
  - Reads only. The facts are returned under C(ansible_facts.smsmse_defs).
extends_documentation_fragment:
  - mailsec.smsmse.hosts
  - mailsec.smsmse.stores
attributes:
  check_mode:
    support: full
    description: Reads only, the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to show.
  action_group:
    support: full
    membership: [mailsec.smsmse.defs]
    description: Use C(group/mailsec.smsmse.defs) in C(module_defaults) to set options once for every module of the collection.
notes:
  - One agent call per host. A C(definfo.dat) that cannot be parsed does not fail the task (as in
    M(mailsec.smsmse.defs_verify)) - its store has no C(active) set and a C(definfo_error) naming the file and line,
    and the task warns.
  - An unknown product version is reported with C(scheme=unknown) and no event IDs; it is never guessed.
seealso:
  - name: About virus definition update codes in SMSMSE (vendor article TECH146697)
    description: The article whose stores, events and behaviour this collection follows.
    link: https://www.symantec.com/docs/TECH146697
author:
  - mailsec.smsmse developers (@mailsec)
"""

EXAMPLES = r"""
- name: Inventory the definition stores (layout detected on Windows; host variables such as smsmse_defs_stores elsewhere)
  mailsec.smsmse.defs_facts:

- name: Show the active CSAPI set
  ansible.builtin.debug:
    msg: "{{ inventory_hostname }} scans with {{ ansible_facts.smsmse_defs.stores.csapi.active }}"

# requires: windows
- name: Override one store on a server with a non-standard install
  mailsec.smsmse.defs_facts:
    stores:
      csapi: 'D:\Symantec Shared\definitions\AntiVirus'

- name: A Linux definitions mirror
  mailsec.smsmse.defs_facts:
    stores:
      hawking: /srv/defs/hawking
      csapi: /srv/defs/csapi
    product:
      name: Symantec Mail Security for Microsoft Exchange
      version: 6.5.8
    events_file: /srv/defs/events.jsonl
    event_hours: 24

- name: Set the options once for every module of the collection
  module_defaults:
    group/mailsec.smsmse.defs:
      stores: "{{ smsmse_defs_stores | default(omit) }}"
  block:
    - mailsec.smsmse.defs_facts:
"""

RETURN = r"""
ansible_facts:
  description: The facts, under C(smsmse_defs).
  returned: success
  type: complex
  contains:
    smsmse_defs:
      description: The definition state of the host.
      returned: success
      type: complex
      contains:
        agent:
          description:
            - Which agent served the host. C(name) is C(defs_agent_win) (the Windows agent's engine, on a Windows host or,
              in the lab, under Mono for a host with C(smsmse_defs_lab_agent=windows)) or C(defs_agent_posix);
              C(runtime) is what ran it, such as C(PowerShell 5.1.17763.1, .NET 4.0.30319.42000), C(Mono 6.8.0.105)
              or C(Python 3.13.1).
          type: dict
          returned: success
          version_added: 0.2.0
          sample: {"name": "defs_agent_posix", "runtime": "Python 3.13.1"}
        host:
          description: The host as the agent saw it (C(hostname), C(os), C(os_version), C(arch)).
          type: dict
          returned: success
        platform:
          description: The vendor layout used for detection (C(x86), C(windows2003_x64), C(windows2008)), null off Windows.
          type: str
          returned: success
          sample: windows2008
        product:
          description: The product.
          type: complex
          returned: success
          contains:
            name:
              description: Product name, null when none is installed or given.
              type: str
            version:
              description: Product version as installed.
              type: str
              sample: 6.5.8.123
            scheme:
              description:
                - The event-ID scheme, C(6.5) (6.5.x, and 7.x and later by inference), C(6.0), C(none) (versions the
                  vendor names no event IDs for, 5.x and earlier), C(inventory) (IDs from C(product.lines)) or
                  C(unknown) (no readable version).
              type: str
              sample: "6.5"
            event_ids:
              description: C(rollback), C(no_valid) and C(init_failed) event IDs; null when none are named or the version is unknown.
              type: dict
              sample: {"rollback": 399, "no_valid": 400, "init_failed": 401}
            self_verifies:
              description:
                - Whether the product verifies definitions itself (6.5.1 and higher, 7.x and 8.x included, or 6.0.12 and
                  higher on 6.0); false for every earlier version; null only when the version is unknown.
              type: bool
            basis:
              description:
                - Where each of C(event_ids) and C(self_verifies) comes from, C(vendor) (stated by the vendor article),
                  C(inferred) (the article does not name the version, as for the 6.5.x event IDs of 7.x and later),
                  C(inventory) (C(product.lines)), C(none) (no event IDs named) or C(unknown).
              type: dict
              sample: {"event_ids": "inferred", "self_verifies": "vendor"}
            note:
              description: Why the values are what they are, in words (for example why the failure-event check is skipped).
              type: str
            source:
              description: Where the product was read (registry key, or C(option)).
              type: str
            install_folder:
              description:
                - Windows, the product's install folder (C(InstallLocation) of its Uninstall entry), null when not known.
              type: str
            service:
              description:
                - Windows, the SMSMSE service, the one whose binary lies under the install folder (C(name), C(state),
                  C(binary_path), C(basis)); null when none is found. The changing modules restart it unless
                  C(service_name) names another.
              type: dict
        stores:
          description: Each store found, by name (C(hawking), C(smsmse_hawking), C(csapi)).
          type: dict
          returned: success
          contains:
            path:
              description: The store's path on the host.
              type: str
            active:
              description: The set C(definfo.dat) names in C(CurDefs), null when none.
              type: str
              sample: "20261125.003"
            last:
              description: C(LastDefs), when present.
              type: str
            active_exists:
              description: Whether the active set is a folder of the store.
              type: bool
            definfo_error:
              description:
                - Why C(definfo.dat) could not be read (C(code) such as C(DEFINFO_MALFORMED), C(message) naming the file
                  and line, C(path)), or null. With an error, C(active) and C(last) are null.
              type: dict
              version_added: 0.2.0
              sample:
                code: DEFINFO_MALFORMED
                message: "/srv/defs/csapi/definfo.dat line 3: ..."
                path: /srv/defs/csapi/definfo.dat
            free_bytes:
              description: Free space on the store's volume.
              type: int
            sets:
              description:
                - The definition sets, oldest first, each with C(version), C(complete) (the C(zdone.dat) marker is present),
                  C(files), C(bytes), C(link), C(truncated) and C(mtime).
              type: list
              elements: dict
            invalid:
              description:
                - Folders named like a set that are not a valid version, with the reason. A version is ASCII
                  C(YYYYMMDD.RRR), matched whole, a real date not in the future; a folder named like one with other
                  digits or with spaces or a newline around it is listed here too, and is never a set.
              type: list
              elements: dict
            other_dirs:
              description: Other folders, with C(kind) C(staging), C(temporary) or C(other).
              type: list
              elements: dict
            usage:
              description:
                - The store's C(usage.dat) (a Hawking store shared with SAV/SEP), null when it has none. C(sets) maps each
                  set section to its product codes, C(sections) the other sections, C(other_lines) the lines that are
                  neither (kept as written); C(sha256), C(size), and C(error) when it is not text, too large or not a
                  regular file (then it is never rewritten).
              type: dict
              sample: {"sets": {"20261125.003": ["SMSMSE_65", "NAVCORP_70"]}, "sections": {}, "other_lines": [], "error": null}
        newest:
          description: The newest set version in any store, null when there is none.
          type: str
          returned: success
        events:
          description: The product's recent definition events, newest first, each with C(id), C(time), C(meaning), C(message).
          type: list
          elements: dict
          returned: success
        events_error:
          description: Why events could not be read, or null.
          type: str
          returned: success
error:
  description: On failure, the error's stable code, message and path (see the collection's error table).
  returned: failure
  type: dict
  sample: {"code": "STORE_UNREADABLE", "message": "The csapi store '/srv/defs/csapi' cannot be read: ...", "path": "/srv/defs/csapi"}
"""
