#!/usr/bin/python
# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the code is the action plugin plugins/action/defs_lab.py.

DOCUMENTATION = r"""
module: defs_lab
short_description: Build a lab of emulated SMSMSE servers on the controller
version_added: 0.1.0
description:
  - Writes O(hosts) emulated servers under O(dir), each a folder with the three stores (C(hawking),
    C(smsmse_hawking), C(csapi)) holding small realistic sets, a C(definfo.dat) per store, an events file, a product
    version and, where set, a LiveUpdate that works or fails; and an inventory (C(inventory.yml)) that reaches them
    over the local connection with the host variables the modules and the C(defs_health) role read.
  - C(reference/) receives a clean copy of every version, to build a catalog from (M(mailsec.smsmse.defs_catalog)).
  - For trying the collection and for its tests; it runs on the controller, whatever host the task targets.
  - An existing lab at O(dir) is replaced.
options:
  dir:
    description: Where the lab goes.
    type: path
    required: true
  hosts:
    description: How many hosts. From 1 to 1000.
    type: int
    default: 20
  mix:
    description:
      - C(fleet) is the role demo's mix (healthy, stale CSAPI, corrupt newest Hawking set, corrupt active CSAPI set,
        all sets corrupt with a LiveUpdate that works or fails, 6.0.x and 6.5.x products), repeated to fill O(hosts).
      - C(healthy) makes every host healthy.
    type: str
    choices: [fleet, healthy]
    default: fleet
  windows_every:
    description:
      - Every O(windows_every)-th host (the 4th, 8th, ... for C(4)) is served by the Windows agent's engine under Mono
        (the host variable C(smsmse_defs_lab_agent=windows)); the others by the POSIX agent. C(0) (the default) serves
        every host by the POSIX agent. From 0 to 1000.
      - When C(mcs) or C(mono) is not on the controller's C(PATH), every host is served by the POSIX agent and the task
        warns, saying what to install.
    type: int
    default: 0
    version_added: 0.2.0
  group_vars:
    description: Variables for every host, written into the inventory (for example the C(defs_health_) options).
    type: dict
    default: {}
requirements:
  - "On the controller: a POSIX file system for the lab's folders; nothing beyond ansible-core"
attributes:
  platform:
    support: N/A
    platforms: all
    description: Runs on the controller, whatever host the task targets.
  check_mode:
    support: none
    description: Always builds the lab.
  diff_mode:
    support: none
    description: Nothing to show.
author:
  - mailsec.smsmse developers (@mailsec)
"""

EXAMPLES = r"""
- name: A lab of 20 servers
  mailsec.smsmse.defs_lab:
    dir: /tmp/smsmse-lab
  run_once: true

- name: A mixed lab - every 4th server served by the Windows agent's engine under Mono
  mailsec.smsmse.defs_lab:
    dir: /tmp/smsmse-lab-mixed
    hosts: 8
    windows_every: 4
  run_once: true
"""

RETURN = r"""
inventory:
  description: The inventory file of the lab.
  returned: success
  type: str
hosts:
  description: Host name to the faults injected there.
  returned: success
  type: dict
agents:
  description: Host name to the agent that serves it, C(posix) or C(windows) (see O(windows_every)).
  returned: success
  type: dict
  version_added: 0.2.0
  sample: {"mail01": "posix", "mail04": "windows"}
reference_sets:
  description: The clean reference set folders, for M(mailsec.smsmse.defs_catalog).
  returned: success
  type: list
  elements: str
"""
