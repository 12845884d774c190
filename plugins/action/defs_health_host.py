# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_health_host: decide, fix and record one host (health_run.run_host)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.modules import defs_health_host
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import (
    agent,
    change,
    contract,
    health_run,
    liveupdate,
    probe,
    steps,
    verify_task,
)
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.action_base import DocumentedAction


class ActionModule(DocumentedAction):
    DOCUMENTATION = defs_health_host.DOCUMENTATION

    def act(self, options: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        """The host's record, whatever happens: a failure of this task must not cost the fleet its report."""
        try:
            return self._run(options, task_vars)
        except Exception as exc:  # recorded as the host's failure (or unreachable), never raised
            today = dt.datetime.now(dt.timezone.utc).date()
            ran = health_run.broken(
                self._task_host(task_vars), exc, judged=None, checks=[], progress=health_run.Progress("the run"), today=today
            )
            return {"changed": ran["changed"], "record": ran["record"]}

    def _run(self, options: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        command = liveupdate.argv(options["liveupdate_command"])
        opts = health_run.Options(
            mode="report" if self._task.check_mode else options["mode"],
            max_age_days=options["max_age_days"],
            keep=options["keep"],
            quarantine=options["quarantine"],
            repair_hawking=options["repair_hawking"],
            liveupdate=options["liveupdate"],
            today=dt.datetime.now(dt.timezone.utc).date(),
        )
        hooks = health_run.Agent(
            apply=lambda plan_steps: self._apply(task_vars, plan_steps, options["hash_cache_dir"]),
            liveupdate=lambda: liveupdate.run(self, task_vars, command=command, timeout=options["liveupdate_timeout"]),
            reverify=lambda: verify_task.run(self, task_vars, options),
        )
        ran = health_run.run_host(
            self._task_host(task_vars),
            options["verified"],
            options["marks"],
            opts,
            overrides=options["stores"] or {},
            ctx=change.context(options, probe.is_windows(self), _product_facts(options["verified"])),
            agent=hooks,
            fleet=health_run.Fleet(options["votes"], options["consensus_threshold"]),
        )
        return {"changed": ran["changed"], "record": ran["record"]}

    def _apply(self, task_vars: dict[str, Any], plan_steps: Sequence[steps.Step], cache_dir: str | None) -> dict[str, Any]:
        request = steps.request(plan_steps, wire=contract.wire(), cache_dir=cache_dir)
        return agent.call(self._execute_module, is_windows=probe.is_windows(self), op="apply", request=request, task_vars=task_vars)

    @staticmethod
    def _task_host(task_vars: dict[str, Any]) -> str:
        return str(task_vars.get("inventory_hostname", "localhost"))


def _product_facts(verified: Any) -> Any:
    """The product facts of the host's defs_verify result (its detected service), or None when it has none."""
    if not isinstance(verified, dict):
        return None
    return ((verified.get("ansible_facts") or {}).get("smsmse_defs") or {}).get("product")
