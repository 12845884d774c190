"""Verdicts on every set of a host: ``good``, ``bad`` or ``unknown``, and exactly why.

One function owns the verdict: :func:`judge`. Its docstring is the order of the
rules; ``docs/trust.md`` says why. :func:`mark_bad` and :func:`apply_consensus`
add marks from outside the host (fleet consensus, the caller's ``bad_sets``)
and run the host rules again, so no result is patched after it was judged.

For the planner and health: ``judge(snapshot.parse(reply, overrides),
required_files=..., catalog=..., marks=...)`` returns the ``verification``
dict documented in ``plugins/modules/defs_verify.py`` (``sets``, ``active``,
``newest_good``, ``hash_stats``, ``catalog``). A good set is a ``sets`` record
with ``status == "good"``; ``newest_good`` names the newest per store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Literal, NamedTuple, TypedDict

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import listing
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import snapshot as snapshots
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.snapshot import EXTRA_STORE, SOURCE_STORES, SetFolder, Snapshot, Store
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.store_names import CSAPI
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import catalog as catalogs
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import manifest, structure, versions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust.consensus import Finding
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust.problems import Problem, ProblemRecord
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

#: a copy's verdict
Status = Literal["good", "bad", "unknown"]
GOOD: Status = "good"
BAD: Status = "bad"
UNKNOWN: Status = "unknown"
#: what proved a verdict, strongest first: a trusted catalog matched (or not) every byte; a decided fleet vote; structure alone
Proof = Literal["catalog", "consensus", "structure"]
CATALOG: Proof = "catalog"
CONSENSUS: Proof = "consensus"
STRUCTURE: Proof = "structure"
PROOFS: tuple[Proof, ...] = (CATALOG, CONSENSUS, STRUCTURE)
#: proof -> how a good verdict with it reads (docs/trust.md says what each is worth)
GOOD_BY: dict[str, str] = {
    CATALOG: "good (the signed catalog matched every byte)",
    CONSENSUS: "good (a decided fleet vote agreed with its bytes)",
    STRUCTURE: "good by structure alone (no catalog or fleet consensus proved its bytes)",
}
#: proof -> the same in a few words, for a table cell or a check's value
GOOD_BY_SHORT: dict[str, str] = {
    CATALOG: "good, proven by the catalog",
    CONSENSUS: "good, proven by fleet consensus",
    STRUCTURE: "good by structure alone",
}
MINORITY = "CONSENSUS_MINORITY"
#: version -> (the digest the fleet decided, its votes, all votes): :func:`consensus.winners`
Agreed = Mapping[str, tuple[str, int, int]]
_STAT_KEYS = ("files_hashed", "bytes_hashed", "files_cached", "bytes_cached")
#: the source rule's ranking of stores: the product's source stores (store_names.SOURCE_STORES), then CSAPI, then a caller's
#: source_path
SOURCE_RANK: tuple[str, ...] = (*SOURCE_STORES, CSAPI, EXTRA_STORE)
COPY_DIFFERS = "SET_COPY_DIFFERS"
#: why the source rule's winner wins, by its store
_WHY: dict[str, str] = {
    **dict.fromkeys(SOURCE_STORES, "the product derives CSAPI from its source store"),
    CSAPI: "a folder given as source_path never outranks a store the product uses",
}


class SetVerdict(TypedDict):
    """One copy of a set in one store, judged (a ``verification.sets`` item)."""

    store: str
    version: str
    path: str
    status: Status
    #: the verdict of the copy's own checks (rules 1 and 2), before any mark or the source rule
    checked: Status
    proof: Proof
    errors: list[ProblemRecord]
    digest: str | None
    files: int
    bytes: int


class ActiveVerdict(TypedDict):
    """A store's active set: what ``definfo.dat`` names and that copy's verdict (``none``: it names nothing; None: not
    judged yet)."""

    version: str | None
    status: Status | Literal["none"] | None
    proof: Proof
    errors: list[ProblemRecord]


class HashStats(TypedDict):
    """What hashing the host's sets cost, over every store (``files_hashed`` were read, ``files_cached`` were not)."""

    files_hashed: int
    bytes_hashed: int
    files_cached: int
    bytes_cached: int
    cache_errors: list[str]
    cache_refused: list[str]


class Verification(TypedDict):
    """The verdicts on one host (``plugins/modules/defs_verify.py`` RETURN ``verification``)."""

    sets: list[SetVerdict]
    active: dict[str, ActiveVerdict]
    #: the newest good version per store, and ``overall``
    newest_good: dict[str, str | None]
    store_problems: dict[str, list[ProblemRecord]]
    hash_stats: HashStats
    catalog: dict[str, object] | None


class Mark(NamedTuple):
    """A verdict from outside the host: this store's copy of this version is bad, for ``problem``."""

    store: str
    version: str
    problem: ProblemRecord


def judge(
    snapshot: Snapshot,
    *,
    required_files: Iterable[str],
    catalog: catalogs.Catalog | None,
    marks: Iterable[Mark | tuple[str, str, ProblemRecord]] = (),
    today: dt.date | None = None,
    agreed: Agreed | None = None,
) -> Verification:
    """The ``verification`` of one host. A copy's verdict comes from these rules, in this order:

    1. **Structure** (:func:`structure.check_set`): valid ASCII version name, marker, required
       files, no empty, temporary or link files, no names that collide under case folding or
       NTFS trailing dot/space rules, every file hashed. Any problem: ``bad``.
    2. **Catalog**, when one is configured (:func:`catalog.check_set`): every file matches an
       entry by exact name, size and SHA-256, and every entry is there. Any mismatch: ``bad``;
       a version the catalog does not list: ``unknown``.
       Rules 1 and 2 are the copy's own checks; their verdict is kept as ``checked``, and only
       copies checked ``good`` or ``unknown`` vote in fleet consensus (see :mod:`consensus`).
    3. **Fleet consensus and other marks** (``marks``: consensus findings, or the caller's
       ``bad_sets``): each marked copy is ``bad``.
    4. **The source rule**: when copies of one version that are not bad yet differ between
       stores of this host, the copy in the highest ranked store (:data:`SOURCE_RANK`: SMSMSE
       Hawking, Hawking, CSAPI, a caller's ``source_path``) wins; every copy that differs from
       it is ``bad`` with ``SET_COPY_DIFFERS``. The product derives CSAPI from its source store,
       so a sound source copy is the one the host itself vouches for.

    A copy that survives all four is ``good`` (or ``unknown``, rule 2). Each store's ``active``
    record follows the set ``definfo.dat`` names; ``newest_good`` follows the verdicts.

    Every copy's ``proof`` says what proved its verdict (:func:`proof_of`): ``catalog`` when the
    catalog lists its version, else ``consensus`` when the fleet decided its version (``agreed``,
    or a ``CONSENSUS_MINORITY`` mark), else ``structure``.
    """
    required = tuple(required_files)
    sets: list[SetVerdict] = []
    active: dict[str, ActiveVerdict] = {}
    stats = dict.fromkeys(_STAT_KEYS, 0)
    cache_errors: list[str] = []
    cache_refused: list[str] = []
    for name, store in snapshot.stores.items():
        if store.error:
            raise SmsmseError("STORE_UNREADABLE", f"The {name} store '{store.path}' cannot be read: {store.error}", path=store.path)
        hashed = store.hash_stats or {}
        for key in _STAT_KEYS:
            stats[key] += hashed.get(key, 0)
        if hashed.get("cache_error"):
            cache_errors.append(hashed["cache_error"])
        if hashed.get("cache_refused"):
            cache_refused.append(hashed["cache_refused"])
        sets.extend(_own_checks(store, folder, required=required, catalog=catalog, today=today) for folder in store.sets)
        active[name] = _pointer_record(store)
    return _decide(
        {
            "sets": sets,
            "active": active,
            "newest_good": {"overall": None},
            "store_problems": {
                name: [p.as_dict() for p in listing.store_problems(store, join=_joiner(store))] for name, store in snapshot.stores.items()
            },
            "hash_stats": {
                "files_hashed": stats["files_hashed"],
                "bytes_hashed": stats["bytes_hashed"],
                "files_cached": stats["files_cached"],
                "bytes_cached": stats["bytes_cached"],
                "cache_errors": cache_errors,
                "cache_refused": cache_refused,
            },
            "catalog": catalog.summary() if catalog else None,
        },
        marks,
        agreed or {},
    )


def mark_bad(
    verification: Verification, marks: Iterable[Mark | tuple[str, str, ProblemRecord]], *, agreed: Agreed | None = None
) -> Verification:
    """``verification`` with each (store, version, problem) copy marked bad (rule 3), and the source rule run again.

    ``agreed``: the versions the fleet decided (their copies with the winning digest are proven by ``consensus``).
    """
    return _decide(verification, marks, agreed or {})


def apply_consensus(verification: Verification, findings: Iterable[Finding], host: str, decided: Agreed | None = None) -> Verification:
    """``verification`` with this host's minority copies marked bad, and the source rule run again."""
    marks = [Mark(f.store, f.version, f.problem()) for f in findings if f.host == host]
    return mark_bad(verification, marks, agreed=decided)


def proof_of(entry: SetVerdict, agreed: Agreed) -> Proof:
    """What proved a copy's verdict: the catalog, a decided fleet vote (its winner, or a minority mark), or structure alone."""
    if entry.get("proof") == CATALOG:
        return CATALOG
    won = agreed.get(entry["version"])
    if any(e["code"] == MINORITY for e in entry["errors"]) or (won is not None and entry.get("digest") == won[0]):
        return CONSENSUS
    return STRUCTURE


def unproven(record: Mapping[str, object] | None) -> str:
    """What to add after "good" when only structure proved the record's verdict ("" when a catalog or the fleet did)."""
    if record is None or record.get("status") != GOOD or record.get("proof") in (CATALOG, CONSENSUS):
        return ""
    return " by structure alone (no catalog or fleet consensus proved its bytes)"


def described(record: Mapping[str, object], short: bool = False) -> str:
    """A verdict in words: a good one says what proved it (structure alone says so); any other is its status."""
    if record.get("status") != GOOD:
        return str(record.get("status"))
    return (GOOD_BY_SHORT if short else GOOD_BY)[str(record.get("proof") or STRUCTURE)]


def newest_good(sets: Iterable[Mapping[str, object]]) -> dict[str, str | None]:
    """The newest good version per store and overall (of verdicts, or of copies as a change left them)."""
    best: dict[str, str | None] = {}
    for entry in sets:
        if entry["status"] != GOOD:
            continue
        version = str(entry["version"])
        for key in (str(entry["store"]), "overall"):
            current = best.get(key)
            if current is None or versions.parse_version(version) > versions.parse_version(current):
                best[key] = version
    best.setdefault("overall", None)
    return best


# --- rules 1 and 2: the copy's own checks ---


def _own_checks(
    store: Store, folder: SetFolder, *, required: tuple[str, ...], catalog: catalogs.Catalog | None, today: dt.date | None
) -> SetVerdict:
    where = store.folder(folder.name)
    problems = listing.set_problems(folder, where=where, join=_joiner(store))
    if not folder.error:
        problems += structure.check_set(
            listing.readable(folder), where=where, join=_joiner(store), required_files=required, hashed=True, today=today
        )
    files = manifest.from_files({"path": f.path, "size": f.size, "sha256": f.sha256} for f in folder.files) if not folder.link else None
    checked, proof = GOOD, STRUCTURE
    if catalog is not None and files is not None:
        against = catalogs.check_set(catalog, folder.name, files, where=where, join=_joiner(store))
        if against is None:
            checked = UNKNOWN
        else:
            problems.extend(against)
            proof = CATALOG
    if problems:
        checked = BAD
    return {
        "store": store.name,
        "version": folder.name,
        "path": where,
        "status": checked,
        "checked": checked,
        "proof": proof,
        "errors": [p.as_dict() for p in problems],
        "digest": manifest.digest(files) if files is not None else None,
        "files": len(folder.files),
        "bytes": folder.bytes,
    }


def _joiner(store: Store) -> structure.Join:
    def join(*parts: str) -> str:
        return snapshots.join(store.windows, *parts)

    return join


def _pointer_record(store: Store) -> ActiveVerdict:
    pointer = store.pointer
    if pointer.error is not None:
        return {"version": None, "status": BAD, "proof": STRUCTURE, "errors": [pointer.error.as_dict()]}
    if pointer.active is None:
        return {"version": None, "status": "none", "proof": STRUCTURE, "errors": []}
    if store.set(pointer.active) is None:
        where = store.folder("definfo.dat")
        what = "which is not in the store" if versions.looks_like_version(pointer.active) else "which is not a set version"
        problem = Problem("POINTER_MISSING_SET", f"definfo.dat names {pointer.active!r}, {what}.", where)
        return {"version": pointer.active, "status": BAD, "proof": STRUCTURE, "errors": [problem.as_dict()]}
    return {"version": pointer.active, "status": None, "proof": STRUCTURE, "errors": []}  # filled in from the set's verdict


# --- rules 3 and 4, then what follows from the verdicts ---


def _decide(verification: Verification, marks: Iterable[Mark | tuple[str, str, ProblemRecord]], agreed: Agreed) -> Verification:
    extra: dict[tuple[str, str], list[ProblemRecord]] = {}
    for store, version, problem in marks:
        extra.setdefault((store, version), []).append(problem.copy())
    sets: list[SetVerdict] = []
    for entry in verification["sets"]:
        errors = [e for e in entry["errors"] if e["code"] != COPY_DIFFERS]
        errors += [p for p in extra.get((entry["store"], entry["version"]), []) if p not in errors]
        checked = entry.get("checked", entry["status"])  # a copy checked good or unknown had no errors of its own
        judged: SetVerdict = {**entry, "errors": errors, "status": BAD if checked == BAD or errors else checked}
        sets.append({**judged, "proof": proof_of(judged, agreed)})
    sets = _source_rule(sets)
    active = {store: _follow(record, store, sets) for store, record in verification["active"].items()}
    return {**verification, "sets": sets, "active": active, "newest_good": newest_good(sets)}


def _source_rule(sets: list[SetVerdict]) -> list[SetVerdict]:
    standing: dict[str, list[SetVerdict]] = {}
    for entry in sets:
        if entry["status"] != BAD:
            standing.setdefault(entry["version"], []).append(entry)
    losers: dict[tuple[str, str], ProblemRecord] = {}
    for version, copies in standing.items():
        if len({c["digest"] for c in copies}) < 2:
            continue
        winner = min(copies, key=lambda c: SOURCE_RANK.index(c["store"]) if c["store"] in SOURCE_RANK else len(SOURCE_RANK))
        for copy in copies:
            if copy["digest"] != winner["digest"]:
                why = _WHY.get(winner["store"], _WHY[CSAPI])
                message = (
                    f"{_where(copy)} holds set {version} with other bytes than {_where(winner)}; no catalog or fleet verdict "
                    f"decided between them, so the copy in {winner['store']} wins ({why})."
                )
                losers[(copy["store"], version)] = {"code": COPY_DIFFERS, "message": message, "path": copy.get("path")}
    return [
        {**e, "status": BAD, "errors": [*e["errors"], losers[(e["store"], e["version"])]]} if (e["store"], e["version"]) in losers else e
        for e in sets
    ]


def _where(entry: SetVerdict) -> str:
    return str(entry.get("path") or f"{entry['store']}/{entry['version']}")


def _follow(record: ActiveVerdict, store: str, sets: list[SetVerdict]) -> ActiveVerdict:
    match = next((s for s in sets if s["store"] == store and s["version"] == record["version"]), None)
    if match is None or record["version"] is None:
        return record.copy()
    return {**record, "status": match["status"], "proof": match["proof"], "errors": match["errors"]}
