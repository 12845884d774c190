#!/usr/bin/python
# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the code is the action plugin plugins/action/defs_health_host.py.

DOCUMENTATION = r"""
module: defs_health_host
short_description: Internal - decide, fix and record one host of a defs_health run
version_added: 0.2.0
description:
  - Internal to the C(defs_health) role; not meant for playbooks.
  - From the host's registered M(mailsec.smsmse.defs_verify) result and the sets fleet consensus marked bad, decides
    what the host needs, records its checks, and in O(mode=enforce) fixes it in one agent call (C(apply)) - a promote
    (a bad active set of the same version is replaced in place), a rollback, and the repair of source stores whose
    newest sets are bad. When no good set exists it tries each of O(sources) in order (LiveUpdate, or a distribution
    point proven by the catalog) until one yields a good set, verifies again after each, and decides again by the
    same rules.
  - A host that needs nothing costs no agent call.
extends_documentation_fragment:
  - mailsec.smsmse.stores
  - mailsec.smsmse.verify
  - mailsec.smsmse.change
  - mailsec.smsmse.health_step
options:
  verified:
    description: The host's registered defs_verify result (may be failed, skipped or unreachable).
    type: raw
    required: true
  decided:
    description:
      - The host's assessment as M(mailsec.smsmse.defs_health_fleet) marked and decided it (this host's entry of
        its RV(mailsec.smsmse.defs_health_fleet#module:decided)). The step reads it as it is, without judging or
        deciding the host again. When it is absent (the fleet step could not judge the host), the host is judged
        here from O(verified) and O(marks), and its record says why it failed.
    type: dict
    version_added: 0.2.0
  marks:
    description: The sets fleet consensus marked bad on this host (from M(mailsec.smsmse.defs_health_fleet)).
    type: list
    elements: dict
    default: []
  votes:
    description:
      - The fleet's votes (from M(mailsec.smsmse.defs_health_fleet)); after LiveUpdate, the same consensus is applied
        to the second verification with this host's votes taken again. Null or absent when consensus is off.
    type: dict
  consensus_threshold:
    description: The share of the votes a digest needs (as the fleet step used).
    type: float
    default: 0.5
  mode:
    description: C(report) decides and records only; C(enforce) also fixes.
    type: str
    choices: [report, enforce]
    default: report
  max_age_days:
    description: The oldest the active definitions may be.
    type: int
    default: 7
  keep:
    description: How many good sets CSAPI keeps (see M(mailsec.smsmse.defs_promote)). From 1 to 1000.
    type: int
    default: 2
  quarantine:
    description: A rollback moves CSAPI's bad sets out of the store.
    type: bool
    default: true
  repair_hawking:
    description:
      - Also repair the plain Hawking store (shared with SAV/SEP) when its newest sets are bad. The SMSMSE Hawking
        store is always repaired.
    type: bool
    default: false
  liveupdate:
    description:
      - Deprecated, use O(sources) - false drops C(liveupdate) from O(sources).
      - Run LiveUpdate when no good set exists anywhere.
    type: bool
    default: true
  sources:
    description:
      - Where a host with no good set gets one, tried in order until one yields a good set - C(liveupdate), or a
        distribution point (an C(https://) or C(http://) URL, a UNC path on Windows hosts, or a full folder path on
        POSIX hosts; see
        M(mailsec.smsmse.defs_import)). A distribution point needs the O(catalog) and is asked for the newest
        catalogued versions the host lacks (up to three, newest first, while a version is missing or differs there).
    type: list
    elements: str
    default: [liveupdate]
  source_timeout:
    description: How long the host waits for a distribution point to connect or send more bytes, in seconds. From 1 to 86400.
    type: int
    default: 60
  source_validate_certs:
    description: Check the certificate of an HTTPS distribution point.
    type: bool
    default: true
  source_ca_path:
    description: A PEM file of CA certificates on the host for an HTTPS distribution point.
    type: str
  source_proxy:
    description:
      - Windows hosts - the proxy to reach a URL distribution point through (C(http://host:port)), instead of the
        system proxy. No credentials - an authenticating proxy is answered with the identity the agent runs as.
      - Refused for POSIX hosts, whose agent connects directly.
    type: str
  liveupdate_timeout:
    description: How long LiveUpdate may run, in seconds. From 1 to 86400.
    type: int
    default: 1800
  liveupdate_command:
    description:
      - On POSIX hosts, the LiveUpdate command, as O(mailsec.smsmse.defs_liveupdate#module:command) takes it (a list of
        arguments or one command line).
      - When the task does not give it, the host variable C(smsmse_defs_liveupdate_command) is used.
    type: raw
requirements:
  - "On the controller: the Python packages of the collection's C(requirements.txt)"
  - "Windows hosts: Windows Server 2016 or later with Windows PowerShell 5.1 on .NET Framework 4.5 or later,
    reached over C(winrm) or C(psrp)"
  - "POSIX hosts: Python 3.9 or later"
author:
  - mailsec.smsmse developers (@mailsec)
"""

EXAMPLES = r"""
# Internal: the defs_health role runs it (roles/defs_health/tasks/main.yml).
- name: Verify every host
  mailsec.smsmse.defs_verify:
  register: verified

- name: Agree across the fleet
  mailsec.smsmse.defs_health_fleet:
    hosts: "{{ ansible_play_hosts_all }}"
    result_var: verified
  register: fleet
  run_once: true

- name: Decide, fix and record
  mailsec.smsmse.defs_health_host:
    verified: "{{ verified }}"
    decided: "{{ fleet.decided[inventory_hostname] | default(omit) }}"
    marks: "{{ fleet.marks[inventory_hostname] }}"
    votes: "{{ fleet.votes }}"
    mode: enforce
  register: host_run
"""

RETURN = r"""
record:
  description: The host's record for the report (C(status), C(message), C(checks), C(actions), C(versions)).
  returned: always
  type: dict
"""
