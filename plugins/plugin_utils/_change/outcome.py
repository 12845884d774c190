"""What an ``apply`` reply means: the controller's reading of the agent's per-step outcomes.

The rules (docs/changes.md, "What the reply means"):

- no step marked ``commit`` started: **nothing was changed**; the task fails
  with the code of the first required step that did not end ``done``;
- a commit step ended ``done``: **the change happened** (``changed`` is true
  whatever follows); a later required step that did not end ``done`` fails the
  task with ``CHANGE_PARTIAL``, naming what was done and what is left; a
  best-effort step that failed is a warning;
- a commit step started but did not end ``done`` (it failed midway, or the
  agent died): ``CHANGE_UNKNOWN``; the next run reads the host again;
- a ``service`` step that starts the scanner again and did not end ``done``
  fails the task with ``SERVICE_NOT_RESTARTED``, whatever became of the change
  (the message says that too): the scanner may not be running.

A refusal (``locked``, ``conflict``, ``refused``, ``source_changed``,
``in_use``, or ``failed`` with ``BAD_REQUEST``: arguments the agent cannot use)
is given before a step changes anything, so a commit step that refused did not
start. Without a commit step that started, the host changed
when a step that moves or removes a set (retire, quarantine or exchange of a
version's folder, write_pointer) ended ``done``, or a ``clean`` put back a
folder an interrupted exchange had moved aside; removing this collection's
own staging and trash folders is not a change.

With nothing changed in the stores, a service this request stopped and started
again is still a change (``changed: true``, said in the message).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict, cast

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change.steps import Reply, Request, Sent, Step, StepReport
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract
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
    "skipped": "NOT_ATTEMPTED",
}
#: a step code that overrides the result's error code
CODE_OVERRIDES: dict[str, str] = {
    "SET_IN_USE": "ACTIVE_SET_IN_USE",
    "STORE_NOT_PRIVATE": "STORE_NOT_PRIVATE",
    "READ_BACK_MISMATCH": "READ_BACK_MISMATCH",
    **{
        code: code
        for code in ("SOURCE_NOT_FOUND", "SOURCE_MISMATCH", "SOURCE_TIMEOUT", "SOURCE_REDIRECT", "SOURCE_TLS", "SOURCE_UNREACHABLE")
    },
}
#: results a step gives before it changes anything
REFUSALS = frozenset({"locked", "conflict", "refused", "source_changed", "in_use", "skipped"})
#: ops that change what the store holds, when they end done (rename only adds a name; stage only a staging folder;
#: clean only when it put a set back)
CHANGING = frozenset({"retire", "quarantine", "exchange", "write_pointer", "clean"})
#: ops a CHANGE_PARTIAL message lists as done or left to do
_WORK = frozenset({"stage", "fetch", "rename", "exchange", "write_pointer", "retire", "quarantine", "event", "service"})
_VERSION = re.compile(r"[0-9]{8}\.[0-9]{3}", re.ASCII)


class ChangeError(TypedDict):
    """Why a change failed, or may have been made (the result's ``error``); ``msg`` becomes the result's message."""

    code: str
    message: str
    msg: NotRequired[str]


class Summary(TypedDict):
    """The convenience keys of a change result, derived from the steps' data (:func:`_summary`)."""

    installed: bool
    removed: list[str]
    cleaned: list[str]
    restored: list[str]
    quarantined: list[str]
    bytes_copied: int
    restarted: bool
    event_written: bool
    lock_broken: str | None
    definfo_sha256: str | None
    definfo_sha256_by_store: dict[str, str | None]


def _describe(index: int, step: Step, report: StepReport) -> str:
    text = f"step {index} ({step['op']} in {step['store']}) ended {report['result']}"
    return f"{text}: {report['message']}" if report.get("message") else text


def _refused(report: StepReport) -> bool:
    """The step did nothing: a refusal, a skip, or arguments the agent could not use."""
    return report["result"] in REFUSALS or (report["result"] == "failed" and contract.step_code(report) is contract.StepCode.BAD_REQUEST)


def _service_round(steps: Sequence[Step], reports: Sequence[StepReport]) -> tuple[bool, tuple[int, Step, StepReport] | None]:
    """(a service was, or may have been, stopped by this request, the start step that did not bring it back or None)."""
    stopped = any(
        s["op"] == "service" and s["args"].get("action") == "stop" and (r["data"].get("stopped", True) or _stop_part_way(r))
        for s, r in zip(steps, reports)
        if r["result"] == "done" or _stop_part_way(r)
    )
    if not stopped:
        return False, None
    down = next(((i, s, r) for i, (s, r) in enumerate(zip(steps, reports)) if _is_start(s) and r["result"] != "done"), None)
    return True, down


def _stop_part_way(report: StepReport) -> bool:
    """A stop that was attempted and did not end done: it may have stopped the scanner (its start then runs)."""
    return report["result"] in ("failed", "timeout")


def _stop_uncertain(steps: Sequence[Step], reports: Sequence[StepReport]) -> bool:
    return any(s["op"] == "service" and s["args"].get("action") == "stop" and _stop_part_way(r) for s, r in zip(steps, reports))


def _is_start(step: Step) -> bool:
    return bool(step["op"] == "service" and step["args"].get("action") == "start")


def _error(code: str, detail: str) -> ChangeError:
    return {"code": code, "message": detail, "msg": str(SmsmseError(code, detail))}


def _verdict(steps: Sequence[Step], reports: Sequence[StepReport]) -> tuple[bool, ChangeError | None]:
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
        changed_by = [  # a clean that put a set back changed it, even when some trash stayed (it then ends failed)
            (i, s)
            for i, (s, r) in pairs
            if s["op"] in CHANGING and (r["result"] == "done" or s["op"] == "clean") and _removed_something(s, r)
        ]
        done_at = changed_by[0][0] if changed_by else None
    blocking = [(i, s, r) for i, (s, r) in pairs if s["required"] and r["result"] != "done"]
    if done_at is None:
        stopped, down = _service_round(steps, reports)
        first = next(((i, s, r) for i, s, r in blocking if not _is_start(s)), None)
        if first is None:
            if stopped and down is not None:  # _not_restarted names the start that failed
                return True, _error("SERVICE_NOT_RESTARTED", "Nothing was changed in the stores, but the service was stopped")
            return stopped, None
        i, s, r = first
        code = CODE_OVERRIDES.get(r.get("code") or "", CODES.get(r["result"], "CHANGE_FAILED"))
        nothing = "Nothing was changed"
        if stopped and _stop_uncertain(steps, reports):
            nothing += " in the stores (the service's stop did not end as asked and may have stopped it; " + (
                "its start did not bring it back)" if down is not None else "it was started again)"
            )
        elif stopped:
            nothing += " in the stores (the service was stopped" + (")" if down is not None else " and started again)")
        if r["result"] == "skipped":  # an earlier step of its group failed: the agent's message names it
            why = str(r.get("message") or "an earlier required step of its group did not end done").removeprefix("skipped: ")
            return stopped, _error(code, f"{nothing}: step {i} ({s['op']} in {s['store']}) was not attempted, because {why}.")
        return stopped, _error(code, f"{nothing}: {_describe(i, s, r)}.")
    blocking = [(i, s, r) for i, s, r in blocking if not _is_start(s)]  # a start that failed: _not_restarted says so
    if not blocking:
        return True, None
    i, s, r = blocking[0]
    left = ", ".join(f"{st['op']} {_subject(st)}".strip() for st, rp in zip(steps[i:], reports[i:]) if rp["result"] != "done")
    detail = f"The change was made ({_made(steps, reports)}), but {_describe(i, s, r)}. Left to do: {left}."
    return True, _error("CHANGE_PARTIAL", detail)


def _made(steps: Sequence[Step], reports: Sequence[StepReport]) -> str:
    done = [f"{st['op']} {_subject(st)}".strip() for st, rp in zip(steps, reports) if rp["result"] == "done" and st["op"] in _WORK]
    return ", ".join(done) or "the commit step"


def _not_restarted(steps: Sequence[Step], reports: Sequence[StepReport], changed: bool, error: ChangeError | None) -> ChangeError | None:
    """SERVICE_NOT_RESTARTED when a step that starts the scanner again did not end done, saying also what became of the change."""
    down = [
        (i, s, r)
        for i, (s, r) in enumerate(zip(steps, reports))
        if s["op"] == "service"
        and s["args"].get("action") == "start"
        and r["result"] not in ("done", "skipped")
        and contract.step_code(r) is not contract.StepCode.NOT_CONFIGURED  # nothing to start with: nothing was stopped, a warning
    ]
    if not down:
        return error
    i, s, r = down[0]
    if error is not None:
        before = str(error["msg"]).split(" Fix: ", 1)[0].rstrip(".")
    else:
        before = f"The change was made ({_made(steps, reports)})" if changed else "Nothing was changed"
    command = s["args"].get("command")
    if s["args"].get("service"):
        what = f"the service {s['args']['service']} did not start again"
    else:
        what = f"the restart command ({shlex.join(command) if command else 'none'}) did not start the scanner again"
    return _error("SERVICE_NOT_RESTARTED", f"{before}, but {what}: {_describe(i, s, r)}.")


def _subject(step: Step) -> str:
    args = step["args"]
    for key in ("name", "to", "b", "action"):
        if isinstance(args.get(key), str):
            return str(args[key])
    return ""


def _removed_something(step: Step, report: StepReport) -> bool:
    """Whether a done step of a CHANGING op changed a set (not only this collection's own leftovers)."""
    args = step["args"]
    if step["op"] in ("write_pointer", "quarantine"):  # quarantine moves a set, or a folder named definfo.dat, out of the store
        return True
    if step["op"] == "clean":
        return bool(report["data"].get("restored"))
    name = args.get("name") if step["op"] == "retire" else args.get("b")
    if not isinstance(name, str) or not _VERSION.fullmatch(name):
        return False
    return step["op"] != "retire" or bool(report["data"].get("removed") or report["data"].get("trash"))


def _summary(steps: Sequence[Step], reports: Sequence[StepReport]) -> Summary:
    """The convenience keys today's results have, derived from step data."""
    staged = {s["args"]["name"] for s, r in zip(steps, reports) if s["op"] == "stage" and r["result"] == "done"}
    done = [(s, r) for s, r in zip(steps, reports) if r["result"] == "done"]
    pointers: dict[str, str | None] = {}
    for step, report in zip(steps, reports):
        if (
            step["op"] in ("expect", "write_pointer")
            and "sha256" in report["data"]
            and step["args"].get("file", "definfo.dat") == "definfo.dat"
        ):
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
        "cleaned": [name for s, r in zip(steps, reports) if s["op"] == "clean" for name in _names(r["data"].get("removed"))],
        "restored": [name for s, r in zip(steps, reports) if s["op"] == "clean" for name in r["data"].get("restored", [])],
        "quarantined": [moved for s, r in done if s["op"] == "quarantine" and (moved := r["data"].get("destination"))],
        "bytes_copied": sum(int(r["data"].get("bytes_copied", 0)) for s, r in done if s["op"] == "stage"),
        "restarted": any(s["op"] == "service" and s["args"]["action"] == "start" and r["data"].get("started", True) for s, r in done),
        "event_written": any(s["op"] == "event" and r["data"].get("written") for s, r in done),
        "lock_broken": next((r["data"]["broken"] for s, r in done if s["op"] == "lock" and r["data"].get("broken")), None),
        "definfo_sha256": pointers.get(commit_store or "", next(iter(pointers.values()), None)),
        "definfo_sha256_by_store": pointers,
    }


def _names(value: list[str] | bool | None) -> list[str]:
    """A clean step's ``removed``: the names it removed (a retire step's is a flag)."""
    return value if isinstance(value, list) else []


def _matches(steps: Sequence[Step], reports: Sequence[StepReport]) -> bool:
    return len(steps) == len(reports) and all(s["op"] == r["op"] for s, r in zip(steps, reports))


def interpret(request: Sent, reply: Mapping[str, object] | None, failure: str | None = None) -> dict[str, Any]:
    """The task result for an ``apply`` request and the agent's reply.

    ``reply`` must have passed ``contract.check_reply("apply", ...)``; None means the
    agent gave no reply (it died, or the connection failed), with ``failure`` saying why.
    """
    steps = request["steps"]
    checked = cast(Reply | None, reply)  # the contract has checked every key and value
    if checked is None or not _matches(steps, checked["steps"]):
        why = failure or ("the agent gave no reply" if reply is None else "the reply's steps do not match the request's")
        unknown = _error("CHANGE_UNKNOWN", f"The change may have been made: {why}. Run the task again: it reads the host afresh.")
        return _result(True, unknown, [], list(checked["warnings"] if checked else []), None)
    reports = checked["steps"]
    changed, error = _verdict(steps, reports)
    error = _not_restarted(steps, reports, changed, error)
    warnings = list(checked["warnings"])
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
    changed: bool, error: ChangeError | None, steps: Sequence[Mapping[str, object]], warnings: list[str], summary: Summary | None
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
    if summary is not None and summary["restored"]:
        result["msg"] += f" Put back under their names after an interrupted exchange: {', '.join(summary['restored'])}."
    return result


def request(steps: Sequence[Mapping[str, object]], cache_dir: str | None = None) -> Request:
    """An ``apply`` request for ``steps`` (each ``{op, store, required, always, commit, args}``), checked against the contract."""
    built = {"wire": contract.wire(), "cache_dir": cache_dir, "steps": [dict(s) for s in steps]}
    return cast(Request, contract.check_request("apply", built))  # the contract has checked every step
