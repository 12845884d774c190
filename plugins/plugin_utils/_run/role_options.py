"""The defs_health role's controller-side options, checked once before any host is contacted.

Each range is data (:data:`RANGES`); the catalog, its keys and state, and the
report folder are the files the controller reads or writes. A bad one stops the
run with one error that names the role variable, before the first agent call and
before the report (so the last good report stays as it was).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report import report
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run import argspec
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import catalog
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

#: role variable -> (lowest, highest) whole number it accepts (the modules' own ranges where they have one)
RANGES: dict[str, tuple[int, int]] = {
    "defs_health_keep": argspec.BOUNDS["keep"],
    "defs_health_liveupdate_timeout": argspec.BOUNDS["liveupdate_timeout"],
    "defs_health_max_age_days": (0, 3650),
    "defs_health_hash_cache_max_age_days": (0, 3650),
    "defs_health_history_runs": (0, 100000),
    "defs_health_signature_threshold": (1, 100),
}
#: the catalog's module options, as the role's variables name them
CATALOG_VARIABLES: dict[str, str] = {
    "`catalog`": "`defs_health_catalog`",
    "`trusted_keys`": "`defs_health_trusted_keys`",
    "`signature_threshold`": "`defs_health_signature_threshold`",
    "`catalog_state`": "`defs_health_catalog_state`",
}


def check(options: Mapping[str, object], *, now: dt.datetime) -> None:
    """Raise ``OPTION_INVALID`` (or the catalog's own code) for the first role option that cannot work."""
    for variable, (low, high) in RANGES.items():
        value = options.get(variable)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high):
            raise SmsmseError("OPTION_INVALID", f"`{variable}` is {value!r}: set it to a whole number from {low} to {high}.")
    threshold = options.get("defs_health_consensus_threshold")
    if threshold is not None and not (isinstance(threshold, (int, float)) and 0.5 <= threshold < 1):
        raise SmsmseError("OPTION_INVALID", f"`defs_health_consensus_threshold` is {threshold!r}: use a fraction from 0.5 to below 1.")
    if "defs_health_fail_severities" in options and not options["defs_health_fail_severities"]:
        raise SmsmseError(
            "OPTION_INVALID",
            "`defs_health_fail_severities` is empty, so no check could make a host drift; to never fail the play, "
            "set `defs_health_fail_on: never`.",
        )
    _check_catalog(options, now)
    _check_report_dir(options.get("defs_health_report_dir"))


def _check_catalog(options: Mapping[str, object], now: dt.datetime) -> None:
    path = options.get("defs_health_catalog")
    if not path:
        return
    threshold = options.get("defs_health_signature_threshold") or 1  # check() held it to RANGES
    state = options.get("defs_health_catalog_state") or None
    try:
        catalog.load_configured(
            str(path),
            trusted_keys=_key_texts(options.get("defs_health_trusted_keys") or []),
            threshold=threshold if isinstance(threshold, int) else 1,
            state_path=str(state) if state else None,
            now=now,
            record_state=False,
        )
    except SmsmseError as exc:
        message = exc.detail
        for option, variable in CATALOG_VARIABLES.items():
            message = message.replace(option, variable)
        raise SmsmseError(exc.code, f"defs_health_catalog: {message}", path=exc.path) from None


def _key_texts(value: object) -> list[str]:
    """The trusted keys a role variable lists (the role's argument spec makes it a list of strings; the module checks
    it again, as it may be called alone)."""
    if isinstance(value, (list, tuple)) and all(isinstance(key, str) for key in value):
        return [str(key) for key in value]
    raise SmsmseError(
        "OPTION_INVALID",
        f"`trusted_keys` is a {type(value).__name__}: list the trusted public keys, one PEM text or 64 hex digits each.",
    )


def _check_report_dir(option: object) -> None:
    folder = report.resolve_dir(str(option) if option else None)
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("/"))
    if not existing.is_dir():
        raise SmsmseError(
            "OPTION_INVALID", f"`defs_health_report_dir` is {str(folder)!r}, but {existing} is not a folder.", path=str(folder)
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "the report folder" if existing == folder else f"{existing}, where the report folder would be made,"
        raise SmsmseError(
            "OPTION_INVALID",
            f"`defs_health_report_dir` is {str(folder)!r}: {what} is not writable by this user; set it to a folder the run can write.",
            path=str(folder),
        )
