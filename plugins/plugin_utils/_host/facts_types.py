"""The ``smsmse_defs`` facts of one host as typed records (``plugins/modules/defs_facts.py`` RETURN): what
:func:`facts.build` gives, and what health and the read-back read of them."""

from __future__ import annotations

from typing import TypedDict

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust.problems import ProblemRecord
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust.verify import Verification


class UsageFacts(TypedDict):
    """A store's ``usage.dat`` (``usage.facts_of``): set -> the product codes that use it, or why it was not read."""

    sha256: str | None
    size: int | None
    sets: dict[str, list[str]]
    sections: dict[str, list[str]]
    other_lines: list[str]
    error: str | None


class StoreFacts(TypedDict):
    """One store of the facts."""

    path: str
    template: str
    free_bytes: int | None
    active: str | None
    last: str | None
    active_exists: bool
    definfo_sha256: str | None
    definfo_error: ProblemRecord | None
    sets: list[dict[str, object]]
    invalid: list[dict[str, str]]
    other_dirs: list[dict[str, object]]
    usage: UsageFacts | None


class ProductFacts(TypedDict):
    """The product as found (``product.describe``, and where the controller found it installed)."""

    name: str | None
    version: str | None
    scheme: str
    event_ids: dict[str, int] | None
    self_verifies: bool | None
    basis: dict[str, str]
    note: str
    source: str | None
    install_folder: str | None
    service: dict[str, object] | None


class EventFacts(TypedDict):
    """One event of the product's log, with what it means."""

    id: int
    time: str
    meaning: str
    message: str


class SmsmseDefs(TypedDict):
    """The facts as ``defs_verify`` sets them (with ``verification``) and health reads them."""

    product: ProductFacts
    stores: dict[str, StoreFacts]
    events: list[EventFacts]
    verification: Verification
