# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_import: check the source and the catalog, read the host, plan, carry it out."""

from __future__ import annotations

from typing import Any

from ansible_collections.mailsec.smsmse.plugins.modules import defs_import
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import change, distpoint, plan
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import decide
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import probe
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.action_base import DocumentedAction, TaskVars
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.option_types import ImportOptions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import catalog
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError


class ActionModule(DocumentedAction[ImportOptions]):
    DOCUMENTATION = defs_import.DOCUMENTATION

    def act(self, options: ImportOptions, task_vars: TaskVars) -> dict[str, Any]:
        result = change.carry_out(self, task_vars, self._plan(task_vars, options), options["hash_cache_dir"])
        warnings = distpoint.replay_warnings([options["source"]], options["catalog_state"], "catalog_state")
        return {**result, "warnings": [*result.get("warnings", []), *warnings]} if warnings else result

    def _plan(self, task_vars: TaskVars, options: ImportOptions) -> plan.Plan:
        source = options["source"]
        if distpoint.kind(source, "source") == distpoint.LIVEUPDATE:
            raise SmsmseError("OPTION_INVALID", "`source` is liveupdate: use mailsec.smsmse.defs_liveupdate for that.")
        distpoint.require_catalog([source], options["catalog"] is not None, "catalog", "source")
        windows = probe.is_windows(self)
        distpoint.check_platform(source, windows=windows)
        trusted = catalog.from_options(options, record_state=False)
        if trusted is None:  # require_catalog saw a catalog path: from_options gives a trusted catalog or raises
            raise SmsmseError("CATALOG_REQUIRED", "The catalog could not be read.")
        version = distpoint.pick_version(trusted, options["version"], options["required_files"])
        stores, _verification, host = change.read_host(self, task_vars, options)
        store = options["store"] or decide.first_source(stores)
        if store is None:
            raise SmsmseError("STORE_NOT_FOUND", "Neither a Hawking nor an SMSMSE Hawking store exists here; set `store`.")
        fetch = plan.Fetch(
            source=distpoint.set_location(source, version),
            timeout_seconds=options["timeout"],
            deadline_seconds=options["deadline"],
            validate_certs=options["validate_certs"],
            ca_path=options["ca_path"],
            proxy=distpoint.check_proxy(options["proxy"], windows=windows),
        )
        ctx = change.context(options, windows, host.detected)
        return plan.import_set(stores, store=store, version=version, manifest=distpoint.manifest(trusted, version), fetch=fetch, ctx=ctx)
