# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_health_fleet: fleet consensus and every decision that needs no agent call, once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from ansible_collections.mailsec.smsmse.plugins.modules import defs_health_fleet
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import distpoint
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report import report_console
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run import health_run
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.action_base import DocumentedAction, TaskVars
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.option_types import HealthFleetOptions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import catalog
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError


class ActionModule(DocumentedAction[HealthFleetOptions]):
    DOCUMENTATION = defs_health_fleet.DOCUMENTATION

    def act(self, options: HealthFleetOptions, task_vars: TaskVars) -> dict[str, Any]:
        if not 0.5 <= options["threshold"] < 1:
            raise SmsmseError("OPTION_INVALID", f"`threshold` is {options['threshold']}: use a fraction from 0.5 to below 1.")
        if not options["fail_severities"]:
            raise SmsmseError(
                "OPTION_INVALID",
                "`fail_severities` is empty, so no check could make a host drift; to never fail the play, set `fail_on: never`.",
            )
        # a bad source fails the run before any host is touched; the catalog names what a distribution point would bring
        outside = distpoint.outside(options["sources"], "defs_health_sources")
        trusted = catalog.from_options(options, record_state=False) if outside else None
        hostvars = task_vars.get("hostvars", {})
        results = {host: _host_vars(hostvars, host).get(options["result_var"]) for host in options["hosts"]}
        marks, votes = health_run.fleet_marks(results, enabled=options["consensus"], threshold=options["threshold"])
        opts = health_run.Options(
            mode="report" if self._task.check_mode else options["mode"],
            max_age_days=options["max_age_days"],
            repair_hawking=options["repair_hawking"],
            today=dt.datetime.now(dt.timezone.utc).date(),
            # what a change does is the host step's business: these are not read to settle a host
            keep=1,
            quarantine=True,
            liveupdate=options["liveupdate"],
            sources=tuple(options["sources"]),
            catalogued=distpoint.newest_first(trusted, options["required_files"]),
        )
        agreed = health_run.Fleet(votes if options["consensus"] else None, options["threshold"]).agreed()
        records, pending, decided = [], [], {}
        for host, verified in results.items():
            try:
                settled, judged = health_run.settle_verified(host, verified, marks[host], opts, agreed=agreed)
            except Exception:  # one host's oddness never stops the fleet step: the host step runs it again
                # for this host alone, and fails that host with the error
                settled, judged = None, None
            if settled is None:
                pending.append(host)
                if judged is not None and judged.assessed is not None:  # marked and decided once, here
                    decided[host] = judged.assessed.to_dict()
            else:
                records.append(settled)
        severities = options["fail_severities"]
        failing = [r["name"] for r in records if report_console.fails(r, options["fail_on"], severities, opts.mode)]
        runner = str(task_vars.get("inventory_hostname", ""))
        return {
            "changed": False,
            "marks": marks,
            "votes": votes if options["consensus"] else None,
            "threshold": options["threshold"],
            "records": records,
            "pending": pending,
            "decided": decided,
            "stay": sorted({*pending, *failing} | ({runner} if runner else set())),
        }


@runtime_checkable
class RawHostVars(Protocol):
    """Ansible's ``hostvars``: each host's variables, read untemplated."""

    def raw_get(self, host_name: str) -> object: ...


def _host_vars(hostvars: object, host: str) -> Mapping[str, object]:
    """The host's variables as they are, not templated (a registered result is data; templating copies it whole)."""
    if not isinstance(hostvars, RawHostVars):
        return {}
    try:
        found = hostvars.raw_get(host)
    except (KeyError, AttributeError):
        return {}
    return found if isinstance(found, Mapping) else {}
