"""A problem found in a set or store: a registered code, a message, and where."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import BY_CODE


class ProblemRecord(TypedDict):
    """A problem as a result carries it (:meth:`Problem.as_dict`)."""

    code: str
    message: str
    path: str | None


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    path: str | None = None

    def __post_init__(self) -> None:
        if self.code not in BY_CODE:
            raise KeyError(f"unregistered error code {self.code}")

    def as_dict(self) -> ProblemRecord:
        return {"code": self.code, "message": self.message, "path": self.path}
