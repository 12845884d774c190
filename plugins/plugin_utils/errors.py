"""The collection's exceptions: each carries a registered code (:mod:`error_codes`) and ends its message with the
code's remediation."""

from __future__ import annotations

from ansible_collections.mailsec.smsmse.plugins.plugin_utils.error_codes import BY_CODE, REGISTRY, ErrorCode

__all__ = ["BY_CODE", "REGISTRY", "AgentFailed", "ErrorCode", "SmsmseError"]


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


class AgentFailed(SmsmseError):
    """``AGENT_FAILED``: the agent died or the connection broke during a call, so what happened on the host is not known."""

    def __init__(self, detail: str) -> None:
        super().__init__("AGENT_FAILED", detail)
