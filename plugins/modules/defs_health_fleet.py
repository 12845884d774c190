#!/usr/bin/python
# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the code is the action plugin plugins/action/defs_health_fleet.py.

DOCUMENTATION = r"""
module: defs_health_fleet
short_description: Internal - fleet consensus of a defs_health run, once for every host
version_added: 0.2.0
description:
  - Internal to the C(defs_health) role; not meant for playbooks.
  - Reads every play host's registered M(mailsec.smsmse.defs_verify) result from C(hostvars) and returns, per host,
    the sets fleet consensus marks bad (see the C(defs_consensus) filter for the voting rule). Run it with C(run_once).
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
  register: fleet
  run_once: true
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
"""
