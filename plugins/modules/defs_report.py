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
    (the C(record) of M(mailsec.smsmse.defs_health_host)) into O(report_dir) - C(defs-health.json) (the main format; its JSON
    Schema is C(schemas/report.json)), C(defs-health.html) (one self-contained page) and C(defs-health.junit.xml).
  - Judges each host by O(fail_severities) - a failing check of another severity is reported but does not make
    the host drift.
  - Keeps a summary of each run under C(history/) (the last O(history_runs), with its times, status counts, and each host's
    name and status), and says for every drifting host since when,
    for how many runs and how many days it has drifted; the HTML page charts the fleet's status counts over those runs.
  - Returns what the C(defs_health) role prints at the end of a play (one line per host that is not compliant, and
    the fleet table), the hosts per status, and the hosts that fail the play by O(fail_on).
  - Used by the C(defs_health) role, once per run; runs on the controller whatever host the task targets.
options:
  report_dir:
    description:
      - The folder to write into, on the controller. A relative path is taken from the current directory.
      - Default the per-user data folder C($XDG_DATA_HOME/mailsec-smsmse/defs-health), or
        C(~/.local/share/mailsec-smsmse/defs-health) when C(XDG_DATA_HOME) is not set (or not absolute).
      - In an automation controller (AWX) job the home folder is thrown away after the job; set a folder on a
        persistent volume or shared path to keep the history.
    type: path
  formats:
    description: Which files to write.
    type: list
    elements: str
    choices: [json, html, junit]
    default: [json, html, junit]
  records:
    description:
      - One record per host (the C(record) of M(mailsec.smsmse.defs_health_host), or the records
        M(mailsec.smsmse.defs_health_fleet) settled).
      - Give O(records), O(hosts) or both (a host in both is reported twice).
    type: list
    elements: dict
  hosts:
    description:
      - The hosts of the run; each host's record is read from its registered O(result_var).
      - A host whose result holds no record (its task failed before it could record the host, or it was unreachable)
        is reported C(failed) (or C(unreachable)) with the task's message, so one host never stops the fleet's report.
      - Give O(records), O(hosts) or both.
    type: list
    elements: str
  result_var:
    description: The variable each host registered its M(mailsec.smsmse.defs_health_host) result in (with O(hosts)).
    type: str
    default: defs_health_host
  run_id:
    description: The run's identifier (letters, digits, C(.), C(_), C(-)); history files are named after it.
    type: str
    required: true
  started:
    description: When the run started (UTC, C(YYYY-MM-DDTHH:MM:SSZ)).
    type: str
    required: true
  options:
    description: The role options to record in the report.
    type: dict
    default: {}
  fail_severities:
    description:
      - The severities of failing checks that make a host drift (and fail its JUnit test case).
      - A failing check of another severity is shown, and skipped in JUnit with the reason.
    type: list
    elements: str
    choices: [critical, high, medium, low, info]
    default: [critical, high, medium]
  fail_on:
    description:
      - Which hosts RV(fail) lists, for the role to fail at the end of the play - C(failed) the hosts that could not
        be made healthy, C(drift) also every host that drifts or was unreachable (every host that is not compliant or
        fixed), C(never) none.
    type: str
    choices: [failed, drift, never]
    default: failed
  history_runs:
    description: How many runs to keep under C(history/), this one included (C(0) keeps none).
    type: int
    default: 60
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

- name: Each host's record, changing nothing (as the defs_health role does in report mode)
  mailsec.smsmse.defs_health_host:
    verified: "{{ verified }}"
    mode: report
  register: host_run

- name: Write the report
  mailsec.smsmse.defs_report:
    report_dir: /var/lib/smsmse/reports
    records: "{{ ansible_play_hosts_all | map('extract', hostvars, ['host_run', 'record']) | list }}"
    run_id: "{{ now(utc=true, fmt='%Y%m%dT%H%M%SZ') }}"
    started: "{{ now(utc=true, fmt='%Y-%m-%dT%H:%M:%SZ') }}"
    fail_on: drift
  register: fleet
  run_once: true

- name: Show the hosts that are not compliant
  ansible.builtin.debug:
    msg: "{{ fleet.lines }}"
  run_once: true
"""

RETURN = r"""
files:
  description: Format to the file written (empty in check mode).
  returned: success
  type: dict
  sample: {"json": "/home/ops/.local/share/mailsec-smsmse/defs-health/defs-health.json"}
report_dir:
  description: The absolute folder the report is in.
  returned: success
  type: str
run_id:
  description: The run's identifier.
  returned: success
  type: str
summary:
  description:
    - The fleet summary - C(hosts), C(counts) and C(percent) per status, and C(hosts_with_store_problems) (hosts whose
      stores hold entries the agent escaped, left out or could not read; each host's C(store_problems) in the report).
  returned: success
  type: dict
hosts:
  description: Status (C(compliant), C(fixed), C(drift), C(failed), C(unreachable)) to the sorted names of its hosts.
  returned: success
  type: dict
fixed_by:
  description: Host name to the source that gave it a good set in this run (C(liveupdate), or a distribution point).
  returned: success
  type: dict
lines:
  description: One line per host that is not compliant, worst first - status, host, failing checks and the first remediation.
  returned: success
  type: list
  elements: str
table:
  description: The fleet table, one line per host (worst first) under a header, then the counts.
  returned: success
  type: list
  elements: str
fail:
  description: Host name to the message it fails with, by O(fail_on).
  returned: success
  type: dict
"""
