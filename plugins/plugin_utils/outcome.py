"""What an ``apply`` reply means: the controller's reading of the agent's per-step outcomes.

The rules (docs/changes.md, "What the reply means"):

- no step marked ``commit`` started: **nothing was changed**; the task fails
  with the code of the first required step that did not end ``done``;
- a commit step ended ``done``: **the change happened** (``changed`` is true
  whatever follows); a later required step that did not end ``done`` fails the
  task with ``CHANGE_PARTIAL``, naming what was done and what is left; a
  best-effort step that failed is a warning;
- a commit step started but did not end ``done`` (it failed midway, or the
  agent died): ``CHANGE_UNKNOWN``; the next run reads the host again.

A refusal (``locked``, ``conflict``, ``refused``, ``source_changed``,
``in_use``, or ``failed`` with ``BAD_REQUEST``: arguments the agent cannot use)
is given before a step changes anything, so a commit step that refused did not
start. Without a commit step that started, the host changed
when a step that moves or removes a set (retire, quarantine or exchange of a
version's folder, write_pointer) ended ``done``; removing this collection's
own staging and trash folders is not a change.

The service: a start step is required, so after the commit a start that failed
is ``CHANGE_PARTIAL``. With nothing changed in the stores, a service this
request stopped and started again is still a change (``changed: true``, said in
the message), and one it stopped and could not start again fails the task with
``SERVICE_NOT_RESTARTED``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import contract
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

#: step result -> error code, when that result stops a change before its commit point
CODES: dict[str, str] = {
    "locked": "STORE_LOCKED",
    "conflict": "CHANGE_CONFLICT",
    "source_changed": "SOURCE_CHANGED",
    "refused": "PRECONDITION_FAILED",
    "in_use": "ACTIVE_SET_IN_USE",
    "failed": "CHANGE_FAILED",
    "timeout": "CHANGE_FAILED",
    "skipped": "CHANGE_FAILED",
}
#: a step code that overrides the result's error code
CODE_OVERRIDES: dict[str, str] = {"SET_IN_USE": "ACTIVE_SET_IN_USE"}
#: results a step gives before it changes anything
REFUSALS = frozenset({"locked", "conflict", "refused", "source_changed", "in_use", "skipped"})
#: ops that change what the store holds, when they end done (rename only adds a name; stage only a staging folder)
CHANGING = frozenset({"retire", "quarantine", "exchange", "write_pointer"})
#: ops a CHANGE_PARTIAL message lists as done or left to do
_WORK = frozenset({"stage", "rename", "exchange", "write_pointer", "retire", "quarantine", "event", "service"})
_VERSION = re.compile(r"[0-9]{8}\.[0-9]{3}", re.ASCII)


def _describe(index: int, step: Mapping[str, Any], report: Mapping[str, Any]) -> str:
    text = f"step {index} ({step['op']} in {step['store']}) ended {report['result']}"
    return f"{text}: {report['message']}" if report.get("message") else text


def _refused(report: Mapping[str, Any]) -> bool:
    """The step did nothing: a refusal, a skip, or arguments the agent could not use."""
    return report["result"] in REFUSALS or (report["result"] == "failed" and report.get("code") == "BAD_REQUEST")


def _service_round(steps: Sequence[Mapping[str, Any]], reports: Sequence[Mapping[str, Any]]) -> tuple[bool, tuple[int, Any, Any] | None]:
    """(a service was stopped by this request, the start step that did not bring it back or None)."""
    stopped = any(
        s["op"] == "service" and s["args"].get("action") == "stop" and r["result"] == "done" and r["data"].get("stopped", True)
        for s, r in zip(steps, reports)
    )
    if not stopped:
        return False, None
    starts = [(i, s, r) for i, (s, r) in enumerate(zip(steps, reports)) if s["op"] == "service" and s["args"].get("action") == "start"]
    down = next(((i, s, r) for i, s, r in starts if r["result"] != "done"), None)
    return True, down if down is not None or starts else (len(steps), {"op": "service", "store": "-"}, {"result": "missing", "message": ""})


def _error(code: str, detail: str) -> dict[str, Any]:
    return {"code": code, "message": detail, "msg": str(SmsmseError(code, detail))}


def _verdict(steps: Sequence[Mapping[str, Any]], reports: Sequence[Mapping[str, Any]]) -> tuple[bool, dict[str, Any] | None]:
    """(changed, error or None)."""
    pairs = list(enumerate(zip(steps, reports)))
    commits = [(i, s, r) for i, (s, r) in pairs if s["commit"]]
    started = [(i, s, r) for i, s, r in commits if not _refused(r)]
    unknown = [(i, s, r) for i, s, r in started if r["result"] != "done"]
    if unknown:
        i, s, r = unknown[0]
        return True, _error(
            "CHANGE_UNKNOWN", f"The change may have been made: {_describe(i, s, r)}. Run the task again: it reads the host afresh."
        )
    done_at = min((i for i, _s, _r in started), default=None)
    if done_at is None:
        changed_by = [(i, s) for i, (s, r) in pairs if s["op"] in CHANGING and r["result"] == "done" and _removed_something(s, r)]
        done_at = changed_by[0][0] if changed_by else None
    blocking = [(i, s, r) for i, (s, r) in pairs if s["required"] and r["result"] != "done"]
    if done_at is None:
        stopped, down = _service_round(steps, reports)
        first = next(((i, s, r) for i, s, r in blocking if not (s["op"] == "service" and s["args"].get("action") == "start")), None)
        if down is not None:
            why = f" The change stopped first: {_describe(*first)}." if first else ""
            return True, _error(
                "SERVICE_NOT_RESTARTED",
                f"Nothing was changed in the stores, but the service this change stopped is not running again: {_describe(*down)}.{why}",
            )
        if first is None:
            return stopped, None
        i, s, r = first
        code = CODE_OVERRIDES.get(r.get("code") or "", CODES.get(r["result"], "CHANGE_FAILED"))
        if stopped:
            return True, _error(
                code, f"Nothing was changed in the stores (the service was stopped and started again): {_describe(i, s, r)}."
            )
        return False, _error(code, f"Nothing was changed: {_describe(i, s, r)}.")
    if not blocking:
        return True, None
    i, s, r = blocking[0]
    made = ", ".join(f"{st['op']} {_subject(st)}".strip() for st, rp in zip(steps, reports) if rp["result"] == "done" and st["op"] in _WORK)
    left = ", ".join(f"{st['op']} {_subject(st)}".strip() for st, rp in zip(steps[i:], reports[i:]) if rp["result"] != "done")
    detail = f"The change was made ({made or 'the commit step'}), but {_describe(i, s, r)}. Left to do: {left}."
    return True, _error("CHANGE_PARTIAL", detail)


def _subject(step: Mapping[str, Any]) -> str:
    args = step["args"]
    for key in ("name", "to", "b", "action"):
        if isinstance(args.get(key), str):
            return str(args[key])
    return ""


def _removed_something(step: Mapping[str, Any], report: Mapping[str, Any]) -> bool:
    """Whether a done step of a CHANGING op changed a set (not only this collection's own leftovers)."""
    args = step["args"]
    if step["op"] == "write_pointer":
        return True
    name = args.get("name") if step["op"] in ("retire", "quarantine") else args.get("b")
    if not isinstance(name, str) or not _VERSION.fullmatch(name):
        return False
    return step["op"] != "retire" or bool(report["data"].get("removed") or report["data"].get("trash"))


def _summary(steps: Sequence[Mapping[str, Any]], reports: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The convenience keys today's results have, derived from step data."""
    staged = {s["args"]["name"] for s, r in zip(steps, reports) if s["op"] == "stage" and r["result"] == "done"}
    done = [(s, r) for s, r in zip(steps, reports) if r["result"] == "done"]
    pointers: dict[str, str | None] = {}
    for step, report in zip(steps, reports):
        if step["op"] in ("expect", "write_pointer") and "sha256" in report["data"]:
            pointers[step["store"]] = report["data"]["sha256"]
    commit_store = next((s["store"] for s in steps if s["commit"]), None)
    return {
        "installed": any(
            (s["op"] == "rename" and s["args"]["from"] in staged) or (s["op"] == "exchange" and s["args"]["a"] in staged) for s, _r in done
        ),
        "removed": [
            s["args"]["name"]
            for s, r in done
            if s["op"] == "retire" and r["data"].get("removed") and not r["data"].get("link") and _VERSION.fullmatch(s["args"]["name"])
        ],
        "cleaned": [name for s, r in zip(steps, reports) if s["op"] == "clean" for name in r["data"].get("removed", [])],
        "quarantined": [r["data"]["destination"] for s, r in done if s["op"] == "quarantine" and r["data"].get("destination")],
        "bytes_copied": sum(int(r["data"].get("bytes_copied", 0)) for s, r in done if s["op"] == "stage"),
        "restarted": any(s["op"] == "service" and s["args"]["action"] == "start" and r["data"].get("started", True) for s, r in done),
        "event_written": any(s["op"] == "event" and r["data"].get("written") for s, r in done),
        "lock_broken": next((r["data"]["broken"] for s, r in done if s["op"] == "lock" and r["data"].get("broken")), None),
        "definfo_sha256": pointers.get(commit_store or "", next(iter(pointers.values()), None)),
        "definfo_sha256_by_store": pointers,
    }


def _matches(steps: Sequence[Mapping[str, Any]], reports: Sequence[Mapping[str, Any]]) -> bool:
    return len(steps) == len(reports) and all(s["op"] == r["op"] for s, r in zip(steps, reports))


def interpret(request: Mapping[str, Any], reply: Mapping[str, Any] | None, failure: str | None = None) -> dict[str, Any]:
    """The task result for an ``apply`` request and the agent's reply.

    ``reply`` must have passed ``contract.check_reply("apply", ...)``; None means the
    agent gave no reply (it died, or the connection failed), with ``failure`` saying why.
    """
    steps: Sequence[Mapping[str, Any]] = request["steps"]
    if reply is None or not _matches(steps, reply["steps"]):
        why = failure or ("the agent gave no reply" if reply is None else "the reply's steps do not match the request's")
        unknown = _error("CHANGE_UNKNOWN", f"The change may have been made: {why}. Run the task again: it reads the host afresh.")
        return _result(True, unknown, [], list((reply or {}).get("warnings", [])), None)
    reports: Sequence[Mapping[str, Any]] = reply["steps"]
    changed, error = _verdict(steps, reports)
    warnings = list(reply["warnings"])
    for index, (step, report) in enumerate(zip(steps, reports)):
        if not step["required"] and report["result"] not in ("done", "skipped"):
            warnings.append(_describe(index, step, report))
    summary = _summary(steps, reports)
    if summary["lock_broken"]:
        warnings.append(f"an abandoned lock was broken: {summary['lock_broken']}")
    compact = [
        {"op": s["op"], "store": s["store"], "result": r["result"], "code": r["code"], "message": r["message"]}
        for s, r in zip(steps, reports)
    ]
    return _result(changed, error, compact, warnings, summary)


def _result(
    changed: bool, error: dict[str, Any] | None, steps: list[dict[str, Any]], warnings: list[str], summary: dict[str, Any] | None
) -> dict[str, Any]:
    msg = str(error.pop("msg")) if error is not None else ("The change was made." if changed else "Nothing was changed.")
    result: dict[str, Any] = {
        "changed": changed,
        "failed": error is not None,
        "msg": msg,
        "error": error,
        "steps": steps,
        "warnings": warnings,
    }
    result.update(summary or _summary([], []))
    if summary is not None and summary["cleaned"] and not changed:
        result["msg"] = msg + f" Leftovers of interrupted runs were removed: {', '.join(summary['cleaned'])}."
    return result


def request(steps: Sequence[Mapping[str, Any]], cache_dir: str | None = None) -> dict[str, Any]:
    """An ``apply`` request for ``steps`` (each ``{op, store, required, always, commit, args}``), checked against the contract."""
    return contract.check_request("apply", {"wire": contract.wire(), "cache_dir": cache_dir, "steps": [dict(s) for s in steps]})
