"""One ``probe`` of a host on behalf of an action plugin: options in, checked reply out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import agent, facts
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.option_types import HashingOptions, HostOptions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import privacy
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError


def is_windows(action: ActionBase) -> bool:
    """Whether the task's connection speaks PowerShell (winrm, psrp, or ssh to Windows)."""
    return bool(getattr(action._connection._shell, "_IS_WINDOWS", False))


def run(
    action: ActionBase, task_vars: Mapping[str, object], options: HostOptions, *, hashing: Mapping[str, object] | None = None
) -> dict[str, Any]:
    """Probe the host once with the module's store, product and event options."""
    windows = is_windows(action)
    request = facts.probe_request(
        is_windows=windows,
        stores=options.get("stores"),
        product_option=options.get("product"),
        events_file=options.get("events_file"),
        event_hours=options.get("event_hours", 72),
        hashing=hashing,
        extra_stores=options.get("extra_stores"),
        store_privacy=privacy.for_request(windows, options.get("store_privacy")),
    )
    return agent.call(action._execute_module, is_windows=windows, op="probe", request=request, task_vars=dict(task_vars))


def hashing(options: HashingOptions) -> dict[str, Any]:
    """The probe's ``hashing`` request from the verify options."""
    days = options["hash_cache_max_age_days"]
    if days < 0:
        raise SmsmseError("OPTION_INVALID", f"`hash_cache_max_age_days` is {days}: give 0 (never use the cache) or more days.")
    return {"deep": options["deep"], "cache_dir": options["hash_cache_dir"], "max_age_seconds": days * 86400}
