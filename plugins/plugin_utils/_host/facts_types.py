"""The ``smsmse_defs`` facts of one host as typed records (``plugins/modules/defs_facts.py`` RETURN): what
:func:`facts.build` gives, and what health and the read-back read of them."""

from __future__ import annotations

from typing import TypedDict

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.product import Description
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.usage import UsageFacts
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust.problems import ProblemRecord
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust.verify import Verification


class SetFacts(TypedDict):
    """One set of a store: its version, whether its extraction completed (``zdone.dat``), its size."""

    version: str
    complete: bool
    files: int
    bytes: int
    link: bool
    truncated: bool
    mtime: float


class InvalidFolder(TypedDict):
    """A folder named almost like a set, and why it is not one."""

    name: str
    reason: str


class OtherFolder(TypedDict):
    """Any other folder of a store: ``staging``, ``temporary`` or ``other``."""

    name: str
    kind: str
    files: int


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
    sets: list[SetFacts]
    invalid: list[InvalidFolder]
    other_dirs: list[OtherFolder]
    usage: UsageFacts | None


class ProductFacts(Description):
    """The product as found (:func:`product.describe`), and where the controller found it installed."""

    source: str | None
    install_folder: str | None
    service: dict[str, object] | None


class EventFacts(TypedDict):
    """One event of the product's log, with what it means."""

    id: int
    time: str
    meaning: str
    message: str


class AgentFacts(TypedDict):
    name: str
    runtime: str


class HostFacts(TypedDict):
    hostname: str
    os: str
    os_version: str
    arch: str


class Facts(TypedDict):
    """The ``smsmse_defs`` facts of :func:`facts.build`."""

    agent: AgentFacts
    host: HostFacts
    platform: str | None
    product: ProductFacts
    stores: dict[str, StoreFacts]
    newest: str | None
    events: list[EventFacts]
    events_error: str | None


class SmsmseDefs(Facts):
    """The facts as ``defs_verify`` sets them: with ``verification``."""

    verification: Verification
