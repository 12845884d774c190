"""Planning a change of one host: the steps defs_promote, defs_rollback and the role ask the agent to run.

Input is the hashing probe of the host and its verification; output is a plan
(the primitive steps, the diff, and what the result will say) or a reason why
nothing needs doing. Everything is decided here, on the controller; the agent
only carries the steps out under the store's lock, if the store is still as it
was (see docs/changes.md).

Three kinds of change, each one group of steps on one store:

- :func:`promote` installs a good set into a store (CSAPI by default). A bad
  copy of the same version is replaced by swapping it with the good copy
  (``exchange``), then retiring what the swap left in the staging folder, so
  that the version's name never lacks a folder (the product may point at it
  at any moment, even when we do not).
- :func:`rollback` points a store at a good set it holds, and can quarantine
  every bad set of the store.
- :func:`repair_source` keeps the product's own copy job away from a bad set:
  in a source store, every bad set newer than the newest good one is
  quarantined and the store's pointer goes back to that good set.

This module is the planners' one public face; the work is done by:

- :mod:`plan_types`: the plan's typed data (``Plan``, ``PlanExtra``, ``Fetch``);
- :mod:`plan_promote`: :func:`promote` and :func:`import_set`;
- :mod:`plan_rollback`: :func:`rollback`, :func:`repair_usage`, :func:`repair_source`;
- :mod:`plan_steps`: the step groups they share (install, pointer, repoint, quarantine);
- :mod:`plan_render`: what a plan shows (the diff, the words, the proof).

Which store is the source and which sets are at risk is decided by :mod:`decide`.
"""

from __future__ import annotations

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change.plan_promote import import_set, promote
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change.plan_render import active_proof
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change.plan_rollback import repair_source, repair_usage, rollback
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change.plan_types import SOURCES, Fetch, Plan, PlanExtra, PlanKind

__all__ = [
    "SOURCES",
    "Fetch",
    "Plan",
    "PlanExtra",
    "PlanKind",
    "active_proof",
    "import_set",
    "promote",
    "repair_source",
    "repair_usage",
    "rollback",
]
