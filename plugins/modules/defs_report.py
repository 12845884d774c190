#!/usr/bin/python
# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the code is the action plugin plugins/action/defs_report.py.

DOCUMENTATION = r"""
module: defs_report
short_description: Write the fleet report of a defs_health run (JSON, HTML, JUnit)
version_added: 0.1.0
description:
  - Writes, on the controller, the report of a C(defs_health) run from every host's record
    (see the C(defs_health_record) filter) into O(report_dir) - C(defs-health.json) (the main format; its JSON
    Schema is C(schemas/report.json)), C(defs-health.html) (one self-contained page) and C(defs-health.junit.xml).
  - Keeps each run's JSON under C(history/), and says for every drifting host since when it has drifted.
  - Used by the C(defs_health) role, once per run; runs on the controller whatever host the task targets.
options:
  report_dir:
    description: The folder to write into.
    type: path
    required: true
  formats:
    description: Which files to write.
    type: list
    elements: str
    choices: [json, html, junit]
    default: [json, html, junit]
  records:
    description: One record per host.
    type: list
    elements: dict
    required: true
  run_id:
    description: The run's identifier (letters, digits, C(.), C(_), C(-)); history files are named after it.
    type: str
    required: true
  started:
    description: When the run started (ISO 8601).
    type: str
    required: true
  options:
    description: The role options to record in the report.
    type: dict
    default: {}
requirements:
  - "On the controller: C(jsonschema) (the report is checked against C(schemas/report.json))"
attributes:
  platform:
    support: N/A
    platforms: all
    description: Runs on the controller, whatever host the task targets.
  check_mode:
    support: full
    description: Writes nothing in check mode; the role runs it with C(check_mode=false), since the report is the point of a check.
  diff_mode:
    support: none
    description: Nothing to show.
author:
  - mailsec.smsmse developers (@mailsec)
"""

EXAMPLES = r"""
- name: Verify every host
  mailsec.smsmse.defs_verify:
  register: verified

- name: Each host's record, as the defs_health role makes it in report mode
  ansible.builtin.set_fact:
    defs_health_record: "{{ verified | mailsec.smsmse.defs_health_plan | mailsec.smsmse.defs_health_record(inventory_hostname, 'report') }}"

- name: Write the report
  mailsec.smsmse.defs_report:
    report_dir: /var/lib/smsmse/reports
    records: "{{ ansible_play_hosts_all | map('extract', hostvars, 'defs_health_record') | list }}"
    run_id: "{{ now(utc=true, fmt='%Y%m%dT%H%M%SZ') }}"
    started: "{{ now(utc=true, fmt='%Y-%m-%dT%H:%M:%SZ') }}"
  run_once: true
"""

RETURN = r"""
files:
  description: Format to the file written.
  returned: success
  type: dict
summary:
  description: The fleet summary (C(hosts), C(counts) and C(percent) per status).
  returned: success
  type: dict
"""
