"""The registry of stable error codes: what each means and what to do about it.

Codes never change meaning once released; new ones are added at the end.
``docs/errors.md`` carries the same table, and a test keeps the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorCode:
    code: str
    meaning: str
    remediation: str


REGISTRY: tuple[ErrorCode, ...] = (
    ErrorCode(
        "OPTION_INVALID",
        "A module option has a value the module cannot use.",
        "Correct the option named in the message; `ansible-doc mailsec.smsmse.<module>` lists the accepted values.",
    ),
    ErrorCode(
        "STORES_REQUIRED",
        "The host is not Windows, so there is no standard SMSMSE layout to detect.",
        "Set the `stores` option (or the `smsmse_defs_stores` host variable) to the paths of the stores.",
    ),
    ErrorCode(
        "STORE_NOT_FOUND",
        "A store path given in `stores` does not exist on the host.",
        "Check the path and the host; remove the entry from `stores` to use detection instead.",
    ),
    ErrorCode(
        "STORE_UNREADABLE",
        "The agent could not list a store (permissions or an I/O error).",
        "Give the connecting account read access to the store, or repair the disk.",
    ),
    ErrorCode(
        "DEFINFO_MALFORMED",
        "A store's definfo.dat cannot be parsed.",
        "Restore definfo.dat from a good store, or rewrite it with `[DefDates]` and `CurDefs=YYYYMMDD.RRR`.",
    ),
    ErrorCode(
        "DEFINFO_TOO_LARGE",
        "A store's definfo.dat is larger than any real one; it is not read.",
        "Inspect the file: it is damaged or not a definfo.dat. Restore it from a good store.",
    ),
    ErrorCode(
        "VERSION_INVALID",
        "A folder in a store is named like a set but is not a valid version (no calendar date, or in the future).",
        "Remove or rename the folder; check the host's clock when the date is in the future.",
    ),
    ErrorCode(
        "AGENT_FAILED",
        "The agent on the host reported a failure.",
        "Read the agent's message; run the task with -vvv for the agent's traceback.",
    ),
    ErrorCode(
        "AGENT_REPLY_INVALID",
        "The agent's reply does not match the contract (schemas/), so none of it is trusted.",
        "Make sure the collection on the controller is the one that shipped the agent; report a bug if it persists.",
    ),
    ErrorCode(
        "EVENTS_UNREADABLE",
        "The product's events could not be read; facts are reported without them.",
        "On Windows, let the account read the Application log; on POSIX, check `events_file`.",
    ),
)

BY_CODE: dict[str, ErrorCode] = {entry.code: entry for entry in REGISTRY}


class SmsmseError(Exception):
    """An error with a registered code; its message ends with the remediation hint."""

    def __init__(self, code: str, detail: str, path: str | None = None) -> None:
        entry = BY_CODE[code]
        super().__init__(f"{code}: {detail} Fix: {entry.remediation}")
        self.code = code
        self.detail = detail
        self.path = path

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.detail, "path": self.path}
