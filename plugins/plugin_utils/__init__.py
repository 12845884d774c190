"""The controller's code, by job. Each package whose name starts with an underscore is internal: no promise of
compatibility to code outside this collection (as ansible.windows marks ``plugin_utils/_reboot.py``).

Public, for playbooks and for code that reads what the collection registers:

- ``assessment``: one host as ``defs_verify`` registers it (``schemas/assessment.json``).
- ``errors``: the registry of stable error codes (``docs/errors.md``).

Internal, one job a package:

- ``_host``: calling the agent, the contract of its replies, and the typed snapshot and facts of one host.
- ``_trust``: what proves a set good: catalogs, manifests, structure, fleet consensus, the verdicts.
- ``_decide``: what one host needs, and its health checks.
- ``_change``: plans, the agent's steps, what their outcome means, reading the host back.
- ``_report``: the fleet report (JSON, HTML, JUnit, the console).
- ``_run``: the action plugins' plumbing and the ``defs_health`` role's run.
- ``_lab``: the lab of emulated servers, for the demo and the tests; never used for a real host.
"""
