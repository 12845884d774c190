"""The health of one host: the checks the defs_health role records, and what it should do about them.

Pure controller logic over a defs_verify result (after fleet consensus). What
to do about the checks is decided in :mod:`decide`; the sequence of a run is
in :mod:`health_run`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from typing import Any, cast

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import store_names
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.facts_types import SmsmseDefs, StoreFacts
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.usage import UsageFacts
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report import words
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import verify, versions

#: the source stores, in the order checks and records list them
SOURCES = store_names.SOURCES_IN_TABLE_ORDER
FAILURE_EVENTS = ("no_valid", "init_failed")

RUNBOOK = (
    "No valid virus definitions are available to the scanner ({event}). Runbook: 1) on the server, run LiveUpdate "
    "(LuALL.exe) or apply the newest Intelligent Updater package for SMSMSE; 2) check that the Hawking store holds a "
    "complete set with zdone.dat; 3) copy that set into CSAPI and point definfo.dat at it (or rerun this role); "
    "4) restart the SMSMSE service and confirm event 25. Vendor articles: TECH146697, and the one on events 110, 168, 68 and 167."
)

#: id -> (title, severity, remediation)
CHECKS: dict[str, tuple[str, str, str]] = {
    "product_verifies": (
        "The product verifies definitions itself",
        "low",
        "Upgrade SMSMSE to 6.5.1 or later (6.0.12 or later on 6.0), which checks definitions before using them.",
    ),
    "csapi_active_good": (
        "The scanner's active set (CSAPI) is good",
        "critical",
        "Roll back to a good set, or promote the newest good set.",
    ),
    "csapi_newest": ("CSAPI is at the newest good version", "high", "Promote the newest good set into CSAPI."),
    "defs_age": (
        "The definitions are younger than the maximum age",
        "high",
        "Run LiveUpdate, then promote; check the LiveUpdate schedule.",
    ),
    "hawking_newest_good": (
        "The newest set of each source store (Hawking, SMSMSE Hawking) is good",
        "medium",
        "Enforce quarantines a bad newest set of SMSMSE Hawking (and of Hawking with defs_health_repair_hawking), "
        "so the product's copy job cannot take it; then run LiveUpdate again.",
    ),
    "usage_sets_present": (
        "Every product in a store's usage.dat uses a good set the store holds",
        "high",
        "A product whose usage.dat entry names a missing or bad set fails to start (TECH84196): enforce moves its product "
        "codes under the store's active good set (or move them by hand in usage.dat).",
    ),
    "pointers_consistent": (
        "Every store's definfo.dat names a complete set it holds",
        "high",
        "Roll back or promote to repair the pointer.",
    ),
    "no_failure_events": (
        "No 'no valid definitions' or 'scanner failed' events",
        "high",
        "Read the events; follow the runbook for 401/395.",
    ),
    "trust_agreement": (
        "Sets agree with the signed catalog and the fleet",
        "critical",
        "Replace the sets that disagree from a good source; investigate tampering.",
    ),
    "catalog_fresh": ("The signed catalog is not about to expire", "medium", "Build and sign a fresh catalog (defs_catalog)."),
    "free_space": ("There is room for one more set in CSAPI", "medium", "Free disk space on the CSAPI volume."),
    "verify": ("The host's definition stores can be read and verified", "critical", "Read the error; it names the code and the fix."),
}

SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
#: the checks the host's plan (promote, roll back, LiveUpdate, repair a source store) answers: when they fail, their
#: remediation is the plan's advice (decide.advice), so that the advice never contradicts the plan
PLANNED_CHECKS = ("csapi_active_good", "csapi_newest", "defs_age", "hawking_newest_good", "pointers_consistent", "trust_agreement")

#: how many store problems a host's record lists (its count says how many there are)
STORE_PROBLEMS_SHOWN = 100
NO_STORE_PROBLEMS: dict[str, Any] = {"count": 0, "entries": []}
#: CSAPI's active set when the host has no CSAPI store
NO_ACTIVE: verify.ActiveVerdict = {"version": None, "status": "none", "proof": verify.STRUCTURE, "errors": []}


def error_check(message: str) -> dict[str, Any]:
    """The one check of a host that could not be verified."""
    return {**_check("verify", False, "verified", "error", message), "status": "error"}


def _check(check_id: str, passed: bool | None, expected: object, actual: object, detail: str = "") -> dict[str, Any]:
    title, severity, remediation = CHECKS[check_id]
    status = "skipped" if passed is None else ("pass" if passed else "fail")
    return {
        "id": check_id,
        "title": title,
        "severity": severity,
        "status": status,
        "expected": expected,
        "actual": actual,
        "remediation": remediation,
        "detail": detail,
    }


def _facts(smsmse_defs: Mapping[str, object]) -> SmsmseDefs:
    """The facts a defs_verify task set (``facts.build`` with ``verification``), as the checks read them."""
    return cast(SmsmseDefs, smsmse_defs)


def checks(
    smsmse_defs: Mapping[str, object],
    *,
    max_age_days: int,
    today: dt.date,
    event_ids: Mapping[str, int] | None = None,
    risks: Sequence[str] = (),
    advice: str | None = None,
) -> list[dict[str, Any]]:
    """Every check of the host, from its defs_verify facts (``smsmse_defs`` with ``verification``).

    ``advice``: what the host's plan says to do; it is the remediation of every failing check of :data:`PLANNED_CHECKS`.
    """
    found = _checks(_facts(smsmse_defs), max_age_days=max_age_days, today=today, event_ids=event_ids, risks=risks)
    if advice is None:
        return found
    return [{**c, "remediation": advice} if c["id"] in PLANNED_CHECKS and c["status"] == "fail" else c for c in found]


def _checks(
    smsmse_defs: SmsmseDefs,
    *,
    max_age_days: int,
    today: dt.date,
    event_ids: Mapping[str, int] | None,
    risks: Sequence[str],
) -> list[dict[str, Any]]:
    verification = smsmse_defs["verification"]
    product = smsmse_defs["product"]
    stores = smsmse_defs["stores"]
    csapi = verification["active"].get(store_names.CSAPI, NO_ACTIVE)
    overall = verification["newest_good"].get("overall")
    found = [_check("product_verifies", product["self_verifies"], True, product["self_verifies"], f"version {product['version']}")]
    found.append(
        _check("csapi_active_good", csapi["status"] == "good", "good", f"{csapi['version']} ({verify.described(csapi, short=True)})")
    )
    found.append(
        _check("csapi_newest", overall is not None and csapi["version"] == overall and csapi["status"] == "good", overall, csapi["version"])
    )
    age = (
        (today - versions.parse_version(csapi["version"]).date).days if csapi["version"] and versions.is_version(csapi["version"]) else None
    )
    found.append(
        _check(
            "defs_age",
            None if age is None else age <= max_age_days,
            f"at most {words.days(max_age_days)}",
            None if age is None else words.days(age),
        )
    )
    hawking = [s for s in verification["sets"] if s["store"] in SOURCES]
    # the newest by name, as the product's copy job sees it: a set dated in the future or on an impossible date sorts
    # after every version (versions.sort_key), so it is named here, bad, rather than ignored
    newest_hawking = max((s["version"] for s in hawking), key=versions.sort_key, default=None)
    hawking_ok = None if newest_hawking is None else all(s["status"] == "good" for s in hawking if s["version"] == newest_hawking)
    found.append(_check("hawking_newest_good", hawking_ok, "good", newest_hawking, " ".join(risks)))
    found.append(_usage_check(stores, verification))
    broken = sorted(name for name, record in verification["active"].items() if record["status"] == "bad")
    found.append(_check("pointers_consistent", not broken, [], broken))
    ids = event_ids or product.get("event_ids") or {}
    failing = sorted({e["id"] for e in smsmse_defs["events"] if e["id"] in {ids.get(k) for k in FAILURE_EVENTS}})
    skipped = "" if ids else f"skipped: {product.get('note') or 'the product names no event IDs'}"
    found.append(_check("no_failure_events", None if not ids else not failing, [], failing, skipped))
    in_use = {(store, record["version"]) for store, record in verification["active"].items()}
    trust_codes = sorted(
        {
            e["code"]
            for s in verification["sets"]
            if (s["store"], s["version"]) in in_use
            for e in s["errors"]
            if e["code"].startswith(("CATALOG_", "CONSENSUS_"))
        }
    )
    found.append(_check("trust_agreement", not trust_codes, [], trust_codes, "the sets the stores point at"))
    catalog = verification.get("catalog")
    if catalog:
        expires = dt.datetime.strptime(str(catalog["expires"]), "%Y-%m-%dT%H:%M:%SZ").date()
        found.append(_check("catalog_fresh", (expires - today).days > 7, f"more than {words.days(7)}", words.days((expires - today).days)))
    else:
        found.append(_check("catalog_fresh", None, "a catalog", None, "no catalog configured"))
    store = stores.get("csapi")
    biggest = max((s["bytes"] for s in verification["sets"]), default=0)
    free = store["free_bytes"] if store else None
    free_text = None if free is None else words.size(free)
    found.append(_check("free_space", None if free is None else free > 2 * biggest, f"more than {words.size(2 * biggest)}", free_text))
    return found


def stale_usage(stores: Mapping[str, object], verification: verify.Verification) -> list[str]:
    """``store: CODE -> set (missing|bad)`` for every product usage.dat gives a set that is not there or bad."""
    found = []
    facts = cast(Mapping[str, StoreFacts], stores)  # the facts' stores (facts.build)
    for name in SOURCES:
        record = _usage(facts, name)
        if not record:
            continue
        held = {s["version"]: s["status"] for s in verification["sets"] if s["store"] == name}
        for version, codes in record["sets"].items():
            status = held.get(version, "missing")
            if status in ("missing", "bad"):
                found += [f"{name}: {code} -> {version} ({status})" for code in codes]
    return found


def _usage_check(stores: Mapping[str, StoreFacts], verification: verify.Verification) -> dict[str, Any]:
    records = {name: _usage(stores, name) for name in SOURCES}
    if not any(records.values()):
        return _check("usage_sets_present", None, [], None, "no usage.dat in the source stores")
    stale = stale_usage(stores, verification)
    unread = [f"{name}: {r['error']}" for name, r in records.items() if r and r["error"]]
    detail = ("products that would fail to start: " + "; ".join(stale)) if stale else ""
    if unread:
        detail = "; ".join([*([detail] if detail else []), *unread])
    return _check("usage_sets_present", not stale, [], stale, detail)


def _usage(stores: Mapping[str, StoreFacts], name: str) -> UsageFacts | None:
    """The store's usage.dat facts (None: no such store, or no usage.dat)."""
    store = stores.get(name)
    return store.get("usage") if store else None


def status_of(
    checks_: Sequence[Mapping[str, object]], *, changed: bool, failed: bool, fail_severities: Collection[str] | None = None
) -> str:
    """``compliant``, ``fixed``, ``drift`` or ``failed``.

    Only checks whose severity is in ``fail_severities`` make a host drift (None, the default: every severity).
    """
    if failed:
        return "failed"
    statuses = {c["status"] for c in checks_}
    counted = {c["status"] for c in checks_ if fail_severities is None or c["severity"] in fail_severities}
    if "fail" in counted or "error" in counted:
        return "drift"
    return "fixed" if changed or "fixed" in statuses else "compliant"


def after_fix(before: Sequence[Mapping[str, object]], after: Sequence[Mapping[str, object]]) -> list[dict[str, Any]]:
    """The checks after a fix: those that failed before and pass now are ``fixed``."""
    old = {c["id"]: c["status"] for c in before}
    return [{**c, "status": "fixed"} if old.get(c["id"]) == "fail" and c["status"] == "pass" else dict(c) for c in after]


def store_problems(verification: verify.Verification) -> dict[str, Any]:
    """What the listing of the host's stores could not say faithfully (escaped names, entries left out): a count, the first entries."""
    by_store = verification.get("store_problems") or {}
    entries = [{"store": store, **problem} for store, problems in by_store.items() for problem in problems]
    return {"count": len(entries), "entries": entries[:STORE_PROBLEMS_SHOWN]}


STATUS_ORDER = {"failed": 0, "unreachable": 1, "drift": 2, "fixed": 3, "compliant": 4}


def host_record(
    name: str,
    *,
    smsmse_defs: Mapping[str, object] | None,
    checks_: Sequence[Mapping[str, object]],
    actions: Sequence[Mapping[str, object]],
    status: str,
    message: str = "",
    today: dt.date,
) -> dict[str, Any]:
    """One host's record in the report."""
    problems = store_problems(_facts(smsmse_defs)["verification"]) if smsmse_defs else NO_STORE_PROBLEMS
    versions_: dict[str, Any] = {
        "csapi_active": None,
        "csapi_proof": None,
        "newest_good": None,
        "hawking_newest": None,
        "age_days": None,
        "product": None,
        "scheme": None,
    }
    if smsmse_defs:
        defs = _facts(smsmse_defs)
        verification = defs["verification"]
        active = verification["active"].get(store_names.CSAPI)
        csapi = active.get("version") if active else None
        versions_.update(
            csapi_active=csapi,
            csapi_proof=active.get("proof") if active and csapi else None,
            newest_good=verification["newest_good"].get("overall"),
            hawking_newest=versions.newest([s["version"] for s in verification["sets"] if s["store"] in SOURCES]),
            age_days=(today - versions.parse_version(csapi).date).days if csapi and versions.is_version(csapi) else None,
            product=defs["product"]["version"],
            scheme=defs["product"]["scheme"],
        )
    return {
        "name": name,
        "status": status,
        "message": message,
        "checks": list(checks_),
        "actions": list(actions),
        "versions": versions_,
        "store_problems": {"count": problems["count"], "entries": list(problems["entries"])},
    }
