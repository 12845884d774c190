#!/usr/bin/python
# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the code is the action plugin plugins/action/defs_health_check.py.

DOCUMENTATION = r"""
module: defs_health_check
short_description: Internal - check the defs_health role's controller-side options once, before any host is contacted
version_added: 0.2.0
description:
  - Internal to the C(defs_health) role; not meant for playbooks. Run it with C(run_once).
  - Checks every role option whose range the argument spec cannot state (for example C(defs_health_keep) from 1),
    loads the signed catalog with its trusted keys and sequence state (recording nothing), and checks that the report
    folder can be written. The first problem fails the task once, naming the role variable, so the run stops before
    the first agent call and before the report, and the last good report stays as it was.
  - Runs on the controller only; no host is contacted.
extends_documentation_fragment:
  - mailsec.smsmse.health_step
options:
  options:
    description: The role's variables, by name (C(defs_health_keep), C(defs_health_catalog), ...).
    type: dict
    required: true
requirements:
  - "On the controller: nothing beyond the collection's C(requirements.txt)"
author:
  - mailsec.smsmse developers (@mailsec)
"""

EXAMPLES = r"""
# Internal: the defs_health role runs it (roles/defs_health/tasks/main.yml).
- name: Check the role's options once
  mailsec.smsmse.defs_health_check:
    options:
      defs_health_keep: 2
      defs_health_max_age_days: 7
      defs_health_report_dir: /var/lib/smsmse/reports
  run_once: true
"""

RETURN = r"""
error:
  description: On failure, the error's stable code, message (naming the role variable) and path.
  returned: failure
  type: dict
"""
