# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_health_host: decide, fix and record one host (health_run.run_host)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.modules import defs_health_host
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import change, distpoint, liveupdate, plan, steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import decide
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import agent, contract, probe, store_view
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run import health_run
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.action_base import DocumentedAction, TaskVars, for_ansible
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.option_types import HealthHostOptions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import catalog, privacy, verify_task
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError


class ActionModule(DocumentedAction[HealthHostOptions]):
    DOCUMENTATION = defs_health_host.DOCUMENTATION

    def act(self, options: HealthHostOptions, task_vars: TaskVars) -> dict[str, Any]:
        """The host's record, whatever happens: a failure of this task must not cost the fleet its report."""
        try:
            return self._run(options, task_vars)
        except Exception as exc:  # recorded as the host's failure (or unreachable), never raised
            today = dt.datetime.now(dt.timezone.utc).date()
            ran = health_run.broken(
                self._task_host(task_vars), exc, judged=None, checks=[], progress=health_run.Progress("the run"), today=today
            )
            return {"changed": ran["changed"], "record": ran["record"]}

    def _run(self, options: HealthHostOptions, task_vars: TaskVars) -> dict[str, Any]:
        command = liveupdate.argv(options["liveupdate_command"])
        sources = list(options["sources"])
        distpoint.require_catalog(sources, options["catalog"] is not None, "defs_health_catalog", "defs_health_sources")
        trusted = catalog.from_options(options, record_state=False) if distpoint.outside(sources) else None
        catalogued = distpoint.newest_first(trusted, options["required_files"])
        opts = health_run.Options(
            mode="report" if self._task.check_mode else options["mode"],
            max_age_days=options["max_age_days"],
            keep=options["keep"],
            quarantine=options["quarantine"],
            repair_hawking=options["repair_hawking"],
            liveupdate=options["liveupdate"],
            today=dt.datetime.now(dt.timezone.utc).date(),
            sources=tuple(sources),
            catalogued=catalogued,
        )
        hooks = health_run.Agent(
            apply=lambda plan_steps: self._apply(task_vars, plan_steps, options["hash_cache_dir"]),
            liveupdate=lambda: liveupdate.run(self, task_vars, command=command, timeout=options["liveupdate_timeout"]),
            reverify=lambda: verify_task.run(self, task_vars, options),
            fetch=lambda source, version, stores: self._import(
                task_vars, options, trusted=trusted, source=source, version=version, stores=stores
            ),
        )
        ran = health_run.run_host(
            self._task_host(task_vars),
            options["verified"],
            options["marks"],
            opts,
            ctx=change.context(options, probe.is_windows(self), _product_facts(options["verified"])),
            agent=hooks,
            fleet=health_run.Fleet(options["votes"], options["consensus_threshold"]),
            decided_by_fleet=options["decided"],
        )
        result = {"changed": ran["changed"], "record": ran["record"]}
        if options["liveupdate"] is False:
            result["deprecations"] = [
                {"msg": "defs_health_liveupdate is deprecated: list the sources in defs_health_sources instead", "version": "1.0.0"}
            ]
        warnings = distpoint.replay_warnings(sources, options["catalog_state"], "defs_health_catalog_state")
        if warnings:
            result["warnings"] = warnings
        return result

    def _import(
        self,
        task_vars: TaskVars,
        options: HealthHostOptions,
        *,
        trusted: catalog.Catalog | None,
        source: str,
        version: str,
        stores: Mapping[str, store_view.StoreView],
    ) -> dict[str, Any]:
        """Bring ``version`` from the distribution point ``source`` into the product's source store (defs_import's plan)."""
        try:
            if trusted is None:
                raise SmsmseError("CATALOG_REQUIRED", f"The source {source} needs a trusted catalog (defs_health_catalog).")
            windows = probe.is_windows(self)
            distpoint.check_platform(source, windows=windows)
            store = decide.first_source(stores)
            if store is None:
                raise SmsmseError("STORE_NOT_FOUND", "Neither a Hawking nor an SMSMSE Hawking store exists here to import into.")
            # as LiveUpdate does: the plain Hawking store (SAV/SEP's) too, when it may be repaired and holds no good set
            also = [n for n in plan.SOURCES if n != store and n in stores and options["repair_hawking"] and not stores[n].good()]
            fetch = plan.Fetch(
                source=distpoint.set_location(source, version),
                timeout_seconds=options["source_timeout"],
                deadline_seconds=max(options["source_timeout"], options["liveupdate_timeout"]),
                validate_certs=options["source_validate_certs"],
                ca_path=options["source_ca_path"],
                proxy=distpoint.check_proxy(options["source_proxy"], windows=windows, option="defs_health_source_proxy"),
            )
            manifest = distpoint.manifest(trusted, version)
            ctx = change.context(options, windows, _product_facts(options["verified"]))
            the_plan = plan.import_set(stores, store=store, version=version, manifest=manifest, fetch=fetch, ctx=ctx)
            fetched = stores[store].folder(version)  # the later groups copy from there (checked against the same manifest)
            plans = [the_plan] + [
                plan.import_set(stores, store=name, version=version, manifest=manifest, fetch=fetch, ctx=ctx, copy_of=fetched)
                for name in also
            ]
        except SmsmseError as exc:
            return {"failed": True, "changed": False, "msg": str(exc), "error": exc.as_dict(), "version": version}
        if not the_plan.changes:
            return {"changed": False, "msg": the_plan.message, "version": version}
        done = change.apply(self, task_vars, [s for p in plans if p.changes for s in p.steps], options["hash_cache_dir"])
        message = "; ".join(p.message for p in plans if p.changes)
        return {**done, "version": version, "msg": done.get("msg") if done.get("failed") else message}

    def _apply(self, task_vars: TaskVars, plan_steps: Sequence[steps.Step], cache_dir: str | None) -> dict[str, Any]:
        request = steps.request(plan_steps, wire=contract.wire(), cache_dir=cache_dir, store_privacy=privacy.of_task(self))
        windows = probe.is_windows(self)
        return agent.call(self._execute_module, is_windows=windows, op="apply", request=dict(request), task_vars=for_ansible(task_vars))

    @staticmethod
    def _task_host(task_vars: TaskVars) -> str:
        return str(task_vars.get("inventory_hostname", "localhost"))


def _product_facts(verified: object) -> Mapping[str, object] | None:
    """The product facts of the host's defs_verify result (its detected service), or None when it has none."""
    if not isinstance(verified, dict):
        return None
    found = ((verified.get("ansible_facts") or {}).get("smsmse_defs") or {}).get("product")
    return found if isinstance(found, Mapping) else None
