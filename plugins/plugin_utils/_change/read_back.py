"""The host as an ``apply`` left it: the read at the end of the reply, judged against what was proven good.

The agent reads every store the change touched after its last step, in the same
call (``read_back``): ``definfo.dat``, the version-named folders, and the files
of the set the pointer names, with their digests. Here that read becomes the
host's record: a store's active set is ``good`` only when its folder is a real
folder holding exactly the files, sizes and digests of a copy this run proved
good (the verification the change was planned from). What the controller
planned is never taken for what happened: the product's copy job may have
pointed a store elsewhere meanwhile, and then the read says so (:func:`lost_races`).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NotRequired, TypedDict, cast

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import plan
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import store_view
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.definfo import DefinfoError, parse_definfo
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.snapshot import ManifestEntry
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import verify
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust.problems import ProblemRecord

#: what a store's active set is, as read back
ReadStatus = Literal["good", "bad", "none"]
GOOD: ReadStatus = "good"
BAD: ReadStatus = "bad"
NONE: ReadStatus = "none"
Manifest = dict[str, ManifestEntry]


class ReadDefinfo(TypedDict):
    """``definfo.dat`` as read back (``apply.reply.json`` ``read_definfo``)."""

    present: bool
    size: int | None
    sha256: str | None
    content_b64: str | None
    kind: NotRequired[str]


class ReadFile(TypedDict):
    """One file of the active set as read back (``read_file``)."""

    path: str
    size: int
    link: bool
    sha256: NotRequired[str | None]


class ReadSet(TypedDict):
    """A version-named entry of the store."""

    name: str
    link: bool


class ReadActive(TypedDict):
    """The set definfo.dat names, as read back: what is at that name, and its files."""

    name: str
    kind: str
    files: list[ReadFile]
    truncated: bool
    error: str | None


class ReadStore(TypedDict):
    """One store as an ``apply`` left it (``apply.reply.json`` ``read_store``)."""

    store: str
    definfo: ReadDefinfo | None
    sets: list[ReadSet]
    active: ReadActive | None
    error: str | None


class Observed(TypedDict):
    """A store's active set as read back: its version, ``good``, ``bad`` or ``none``, and why."""

    version: str | None
    status: ReadStatus
    errors: list[ProblemRecord]


def records(read: Sequence[Mapping[str, object]]) -> list[ReadStore]:
    """The ``read_back`` of an ``apply`` reply that ``contract.check_reply`` passed: each item is a ``read_store``."""
    return [cast(ReadStore, record) for record in read]


def good_copies(stores: Mapping[str, store_view.StoreView]) -> dict[str, list[Manifest]]:
    """Version -> the manifests of every copy the verification called good (the bytes a good set of it holds)."""
    found: dict[str, list[Manifest]] = {}
    for view in stores.values():
        for version, record in view.sets.items():
            if record["status"] == GOOD:
                manifest = view.manifest(version)
                if manifest not in found.setdefault(version, []):
                    found[version].append(manifest)
    return found


def _problem(code: str, message: str, path: str | None) -> ProblemRecord:
    return {"code": code, "message": message, "path": path}


def _pointer(record: ReadStore, where: str) -> tuple[str | None, ProblemRecord | None]:
    """The version definfo.dat names as read back (the controller parses the bytes itself), or the problem with it."""
    definfo = record["definfo"]
    if definfo is None or not definfo["present"]:
        return None, None
    kind = definfo.get("kind", "file")
    if kind == "link":
        return None, _problem("DEFINFO_LINK", f"{where} is a link; the scanner would read whatever it leads to.", where)
    if kind != "file":
        return None, _problem("DEFINFO_NOT_A_FILE", f"{where} is not a regular file ({kind}).", where)
    if definfo["content_b64"] is None:
        return None, _problem("DEFINFO_TOO_LARGE", f"{where} is {definfo['size']} bytes, more than any real definfo.dat holds.", where)
    try:
        return parse_definfo(base64.b64decode(definfo["content_b64"]), source=where).cur_defs, None
    except DefinfoError as exc:
        return None, _problem("DEFINFO_MALFORMED", f"{where}: {exc}", where)


def observe(record: ReadStore, goods: Mapping[str, Sequence[Manifest]], *, windows: bool = False) -> Observed:
    """One store's active set as read back: ``{version, status, errors}`` (status ``good``, ``bad`` or ``none``)."""
    join = "\\" if windows else "/"
    store = str(record["store"]).rstrip("\\/")
    where = f"{store}{join}definfo.dat"
    if record["error"] is not None:
        return {"version": None, "status": BAD, "errors": [_problem("STORE_UNREADABLE", f"{store}: {record['error']}", store)]}
    version, problem = _pointer(record, where)
    if problem is not None:
        return {"version": None, "status": BAD, "errors": [problem]}
    if version is None:
        return {"version": None, "status": NONE, "errors": []}
    folder = f"{store}{join}{version}"
    active = record["active"]
    if active is None or active["name"] != version:
        why = f"the agent read {active['name']!r}" if active else "the agent read no name"
        return _bad(version, "DEFINFO_MALFORMED", f"{where} names {version!r}, but {why}: the read is not trusted.", where)
    if active["kind"] != "dir":
        what = {"missing": "which is not in the store", "link": "which is a link (never followed)"}.get(
            active["kind"], "which is no set folder"
        )
        return _bad(version, "POINTER_MISSING_SET", f"definfo.dat names {version!r}, {what}.", where)
    if active["error"] is not None or active["truncated"]:
        return _bad(version, "SET_UNREADABLE", f"{folder} could not be read back whole: {active['error'] or 'too many files'}", folder)
    listed = {f["path"]: {"size": f["size"], "sha256": f["sha256"]} for f in active["files"]}
    if any(f["link"] or f["sha256"] is None for f in active["files"]):
        return _bad(version, "SET_UNREADABLE", f"{folder} holds a link or a file that could not be read back.", folder)
    if version not in goods:
        message = f"{folder} is not a set this run proved good (the product's own copy?)"
        return _bad(version, "SET_NOT_GOOD", message, folder)
    if listed not in [dict(m) for m in goods[version]]:
        message = f"{folder} does not hold the bytes of any good copy of {version} (the product's own copy?)"
        return _bad(version, "SET_COPY_DIFFERS", message, folder)
    return {"version": version, "status": GOOD, "errors": []}


def _join(view: store_view.StoreView, name: str) -> str:
    return view.path.rstrip("\\/") + ("\\" if view.windows else "/") + name


def _bad(version: str, code: str, message: str, path: str) -> Observed:
    return {"version": version, "status": BAD, "errors": [_problem(code, message, path)]}


def facts(
    smsmse_defs: Mapping[str, object], stores: Mapping[str, store_view.StoreView], read: Sequence[Mapping[str, object]]
) -> tuple[dict[str, Any], dict[str, Observed]]:
    """The host's facts with every store read back in place of what was verified before the change; and store -> what was read.

    Sets the read no longer finds leave the record; a set found that the verification
    did not hold is recorded as the read judged it (the active one) or not at all.
    """
    goods = good_copies(stores)
    by_path = {view.path: name for name, view in stores.items()}
    verification = cast(verify.Verification, smsmse_defs["verification"])  # the facts defs_verify set
    sets = [dict(s) for s in verification["sets"]]
    active: dict[str, Mapping[str, object]] = {name: dict(record) for name, record in verification["active"].items()}
    seen: dict[str, Observed] = {}
    for record in records(read):
        name = by_path.get(str(record["store"]))
        if name is None:
            continue
        observed = observe(record, goods, windows=stores[name].windows)
        seen[name] = observed
        there = {entry["name"] for entry in record["sets"] if not entry["link"]}
        sets = [s for s in sets if s["store"] != name or s["version"] in there]
        version = observed["version"]
        copy = next((s for s in sets if s["store"] == name and s["version"] == version), None)
        if version is not None and version in there:
            if copy is None:
                good = [s for s in sets if s["version"] == version and s["status"] == GOOD]
                origin = good[0] if good and observed["status"] == GOOD else {"digest": None, "files": 0, "bytes": 0}
                copy = {**origin, "store": name, "version": version, "path": _join(stores[name], version)}
                sets.append(copy)
            copy.update(status=observed["status"], checked=observed["status"], errors=observed["errors"])
        active[name] = observed
    read_verification = {**verification, "sets": sets, "active": active, "newest_good": verify.newest_good(sets)}
    return {**smsmse_defs, "verification": read_verification}, seen


def lost_races(plans: Sequence[plan.Plan], seen: Mapping[str, Observed], stores: Mapping[str, store_view.StoreView]) -> list[str]:
    """For each plan whose store the read shows not at a good set: why (a conflict, naming what is there)."""
    found = []
    for the_plan in plans:
        if the_plan.extra.get("usage_repaired"):  # only usage.dat changed: the store's pointer was never this plan's
            continue
        observed = seen.get(the_plan.store)
        if observed is None or observed["status"] == GOOD:
            continue
        view = stores.get(the_plan.store)
        path = view.path if view else the_plan.store
        now = observed["version"]
        what = f"names {now}" if now else "names no set"
        reasons = "; ".join(str(e["message"]) for e in observed["errors"][:2])
        if now is not None and now != the_plan.version:
            text = f"{the_plan.store} ({path}) {what} after the change, not {the_plan.version}: the product changed it meanwhile"
        else:
            text = f"{the_plan.store} ({path}) {what} after the change, and it is not good"
        found.append(f"CHANGE_CONFLICT: {text}" + (f" ({reasons})" if reasons else "") + ". Run enforce again.")
    return found
