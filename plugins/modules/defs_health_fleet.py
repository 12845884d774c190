#!/usr/bin/python
# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the code is the action plugin plugins/action/defs_health_fleet.py.

DOCUMENTATION = r"""
module: defs_health_fleet
short_description: Internal - fleet consensus and decisions of a defs_health run, once for every host
version_added: 0.2.0
description:
  - Internal to the C(defs_health) role; not meant for playbooks.
  - Reads every play host's registered M(mailsec.smsmse.defs_verify) result from C(hostvars) and returns, per host,
    the sets fleet consensus marks bad (see the C(defs_consensus) filter for the voting rule). Run it with C(run_once).
  - Decides every host that needs no agent call (report mode, nothing to change, unreachable, not verified) here, once,
    and returns its report record; only the hosts in RV(pending) need M(mailsec.smsmse.defs_health_host). RV(stay) names
    the hosts that still have something to do in the role - those pending, those the report will fail, and the host that
    ran this step - so that the role can end itself for every other host without a task per host.
  - Runs on the controller only; no host is contacted.
extends_documentation_fragment:
  - mailsec.smsmse.health_step
options:
  hosts:
    description: The hosts of the run (C(ansible_play_hosts_all)).
    type: list
    elements: str
    required: true
  result_var:
    description: The name each host registered its defs_verify result under.
    type: str
    default: defs_health_verified
  consensus:
    description: Apply fleet consensus; without it no set is marked.
    type: bool
    default: true
  threshold:
    description: The share of the votes a digest needs, from 0.5 (a simple majority) to below 1.
    type: float
    default: 0.5
  mode:
    description: C(report) decides and records every host here; C(enforce) leaves the hosts that need a change pending.
    type: str
    choices: [report, enforce]
    default: report
  max_age_days:
    description: The oldest the active definitions may be.
    type: int
    default: 7
  repair_hawking:
    description: Also repair the plain Hawking store when its newest sets are bad (as M(mailsec.smsmse.defs_health_host)).
    type: bool
    default: false
  sources:
    description:
      - Where enforce gets a good set for a host that has none, in order (see M(mailsec.smsmse.defs_health_host)); a
        host settled in report mode records the first one as its planned action.
    type: list
    elements: str
    default: [liveupdate]
  catalog:
    description:
      - The signed catalog, as M(mailsec.smsmse.defs_verify) takes it. Read only when O(sources) names a distribution
        point - a host settled in report mode then names the version it would bring (the newest the catalog lists).
    type: path
  trusted_keys:
    description: The public keys whose signatures count for the O(catalog).
    type: list
    elements: str
    default: []
  signature_threshold:
    description: How many distinct trusted keys must have signed the O(catalog).
    type: int
    default: 1
  catalog_state:
    description: The controller file of the highest catalog sequence accepted; read here, never written.
    type: path
  required_files:
    description: Files every set must hold; a catalog entry without them is never brought from a distribution point.
    type: list
    elements: str
    default: [zdone.dat, virscan1.dat, naveng32.dll, navex32a.dll]
  liveupdate:
    description: Deprecated, use O(sources) - false drops C(liveupdate) from O(sources).
    type: bool
    default: true
  fail_on:
    description: Which hosts the report fails (as M(mailsec.smsmse.defs_report) takes it).
    type: str
    choices: [failed, drift, never]
    default: failed
  fail_severities:
    description: The severities of failing checks that make a host drift (as M(mailsec.smsmse.defs_report) takes them).
    type: list
    elements: str
    choices: [critical, high, medium, low, info]
    default: [critical, high, medium]
requirements:
  - "On the controller: nothing beyond the collection's C(requirements.txt)"
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
    mode: enforce
  register: fleet
  run_once: true

- name: Decide, fix and record the hosts that need a change
  mailsec.smsmse.defs_health_host:
    verified: "{{ verified }}"
    decided: "{{ fleet.decided[inventory_hostname] | default(omit) }}"
    marks: "{{ fleet.marks[inventory_hostname] }}"
    votes: "{{ fleet.votes }}"
    mode: enforce
  register: host_run
  when: inventory_hostname in fleet.pending
"""

RETURN = r"""
marks:
  description: Host name to the sets consensus marks bad there (C(store), C(version), C(code), C(message)).
  returned: always
  type: dict
votes:
  description:
    - Version to set digest to the number of hosts voting for it (null when consensus is off). The host step applies
      the same rule again to what LiveUpdate brings, with that host's votes taken again.
  returned: always
  type: dict
threshold:
  description: The threshold the votes were decided with.
  returned: always
  type: float
records:
  description: The report record of every host that needs no agent call (see M(mailsec.smsmse.defs_health_host)).
  returned: always
  type: list
  elements: dict
pending:
  description: The hosts that need M(mailsec.smsmse.defs_health_host) - enforce mode and a change to make.
  returned: always
  type: list
  elements: str
decided:
  description:
    - Host name to its assessment (as RV(mailsec.smsmse.defs_verify#module:assessment)), with the fleet's marks applied
      and its C(decision) and C(checks) filled in, for each host of RV(pending) the step could judge. Pass it to the
      O(mailsec.smsmse.defs_health_host#module:decided) option, so that each host is decided once per run.
  returned: always
  type: dict
  version_added: 0.2.0
stay:
  description:
    - The hosts with something left to do in the role - RV(pending), the hosts the report will fail, and the host that
      ran this step (it runs the report).
  returned: always
  type: list
  elements: str
"""
