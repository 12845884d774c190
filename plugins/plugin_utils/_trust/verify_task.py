"""One defs_verify task on a host: trust the catalog, one hashing probe, the host's assessment out.

Shared by the defs_verify action and the defs_health role's second verify after LiveUpdate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import assessment
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import facts, probe, product
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.option_types import VerifyOptions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import catalog


def run(action: ActionBase, task_vars: Mapping[str, object], options: VerifyOptions) -> dict[str, Any]:
    """The defs_verify result keys: the verification, the ``assessment`` for a later step or change, and the facts."""
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
    reply: Mapping[str, object],
    *,
    overrides: Mapping[str, str | None],
    required_files: Iterable[str],
    trusted: catalog.Catalog | None,
    lines: tuple[product.Override, ...] = (),
) -> dict[str, Any]:
    """The defs_verify result of a hashing probe reply: the reply is parsed once, here, and only its assessment is kept."""
    found = assessment.assess(reply, overrides=overrides, required_files=required_files, trusted=trusted, lines=lines)
    return result_of_assessment(found)


def result_of_assessment(found: assessment.Assessment) -> dict[str, Any]:
    """The defs_verify result keys of an assessment."""
    verification = found.verification
    warnings = [f"the hash cache was not used, every file was read: {why}" for why in verification["hash_stats"]["cache_refused"]]
    return {
        **verification,
        "assessment": found.to_dict(),
        "ansible_facts": {"smsmse_defs": found.smsmse_defs},
        **({"warnings": warnings} if warnings else {}),
    }
