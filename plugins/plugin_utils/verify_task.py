"""One defs_verify task on a host: trust the catalog, one hashing probe, verdicts and facts out.

Shared by the defs_verify action and the defs_health role's second verify after LiveUpdate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import catalog, facts, probe, product, snapshot, verify


def run(action: Any, task_vars: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """The defs_verify result keys: the verification, the ``state`` for a later change, and the facts."""
    trusted = catalog.from_options(options, record_state=not action._task.check_mode)
    reply = probe.run(action, task_vars, options, hashing=probe.hashing(options))
    return result_of(
        reply,
        overrides=options["stores"] or {},
        required_files=options["required_files"],
        trusted=trusted,
        lines=facts.product_lines(options.get("product")),
    )


def result_of(
    reply: Mapping[str, Any],
    *,
    overrides: Mapping[str, str | None],
    required_files: Iterable[str],
    trusted: catalog.Catalog | None,
    lines: tuple[product.Override, ...] = (),
) -> dict[str, Any]:
    """The defs_verify result of a hashing probe reply."""
    host = snapshot.parse(reply, overrides)
    verification = verify.judge(host, required_files=required_files, catalog=trusted)
    smsmse_defs = facts.build(host, strict=False, lines=lines)
    warnings = [f"the hash cache was not used, every file was read: {why}" for why in verification["hash_stats"]["cache_refused"]]
    return {
        **verification,
        "state": {"reply": reply, "stores": dict(overrides)},  # the store paths it was parsed with, to parse it again alike
        "ansible_facts": {"smsmse_defs": {**smsmse_defs, "verification": verification}},
        **({"warnings": warnings} if warnings else {}),
    }
