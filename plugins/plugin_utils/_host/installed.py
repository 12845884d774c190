"""Which SMSMSE a Windows host runs, decided on the controller from what the agent lists.

The agent reports raw listings (the probe reply's ``installed``): the Uninstall
entries of both registry views (64- and 32-bit) whose display name mentions
Symantec or Mail Security, and the services whose name or binary path does.
Here, and only here, they are read:

- the product is the Uninstall entry whose display name is the product's
  (``Symantec Mail Security for Microsoft Exchange``, with or without what an
  installer appends, such as ``(x64)``); the 64-bit view first, then the
  highest version;
- its version and install folder (``InstallLocation``) come from that entry;
- the SMSMSE service is the one whose binary lies under the install folder
  (several: the running one, then the one named ``SMSMSE``, then by name);
  the ``service_name`` option overrides it.

Everything here is untrusted host data: text is compared, never executed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import ntfs
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.probe_reply import InstalledListing
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.product import PRODUCT_NAME, version_tuple

#: the service name SMSMSE installs, used when nothing better is known (older agents, no install folder)
DEFAULT_SERVICE = "SMSMSE"
_VIEW_ORDER = {"64": 0, "32": 1}
_EXECUTABLE = re.compile(r"^\s*(?:\"(?P<quoted>[^\"]+)\"|(?P<bare>.+?\.(?:exe|dll|com|bat|cmd)))(?:\s|$)", re.IGNORECASE)


@dataclass(frozen=True)
class Entry:
    """One Uninstall entry as listed: its registry view, key name and values."""

    view: str
    key: str
    display_name: str
    display_version: str
    install_location: str

    @property
    def source(self) -> str:
        return f"HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{self.key} ({self.view}-bit view)"


@dataclass(frozen=True)
class Service:
    name: str
    display_name: str
    binary_path: str
    state: str


#: what an installer may append to the product's display name: a platform and/or a version, nothing else
_SUFFIX = re.compile(r"(\s*\(?(x64|x86|64-bit|32-bit)\)?)?(\s+v?[0-9]+(\.[0-9]+)*)?\s*", re.IGNORECASE | re.ASCII)


def is_product(display_name: str) -> bool:
    """The display name is the product's: the name itself, or it followed by a platform or version (`` (x64)``, `` 8.0``);
    never another product that starts the same way (``... Management Console``)."""
    name = display_name.strip()
    lead = PRODUCT_NAME.lower()
    return name.lower().startswith(lead) and _SUFFIX.fullmatch(name[len(lead) :]) is not None


def choose_entry(entries: Sequence[Entry]) -> Entry | None:
    """The product's Uninstall entry: 64-bit view first, then the highest version, then key order."""
    found = [e for e in entries if is_product(e.display_name)]

    def rank(entry: Entry) -> tuple[int, tuple[int, ...], str]:
        parts = version_tuple(entry.display_version) or (0, 0, 0)
        return (_VIEW_ORDER.get(entry.view, 2), tuple(-p for p in parts), entry.key)

    return min(found, key=rank) if found else None


def executable(binary_path: str) -> str | None:
    """The program a service's ImagePath runs (quotes and arguments removed); None when it names none."""
    match = _EXECUTABLE.match(binary_path)
    if match is None:
        return None
    return (match.group("quoted") or match.group("bare")).strip()


def _under(path: str, folder: str) -> bool:
    folded = ntfs.upper(folder.replace("/", "\\").rstrip("\\"))
    return bool(folded) and ntfs.upper(path.replace("/", "\\")).startswith(folded + "\\")


def services_under(folder: str, services: Sequence[Service]) -> list[Service]:
    """The services whose program lies under ``folder``: the running one first, then ``SMSMSE``, then by name."""
    found = [s for s in services if (program := executable(s.binary_path)) is not None and _under(program, folder)]
    return sorted(found, key=lambda s: (s.state.lower() != "running", s.name.upper() != DEFAULT_SERVICE, s.name.lower()))


def parse(listing: InstalledListing) -> tuple[list[Entry], list[Service]]:
    """The reply's ``installed`` listing as typed records."""
    entries = [
        Entry(e["view"], e["key"], e["display_name"] or "", e["display_version"] or "", e["install_location"] or "")
        for e in listing["uninstall"]
    ]
    services = [Service(s["name"], s["display_name"] or "", s["binary_path"] or "", s["state"] or "") for s in listing["services"]]
    return entries, services


def detect(listing: InstalledListing | None) -> dict[str, Any] | None:
    """The product and its service from the raw listing; None when the agent sent none (then its own pick stands)."""
    if listing is None:
        return None
    entries, services = parse(listing)
    entry = choose_entry(entries)
    if entry is None:
        return {"name": None, "version": None, "source": None, "install_folder": None, "service": None, "service_candidates": []}
    folder = entry.install_location.strip() or None
    under = services_under(folder, services) if folder else []
    return {
        "name": entry.display_name,
        "version": entry.display_version,
        "source": entry.source,
        "install_folder": folder,
        "service": _service(under[0], "install_folder") if under else None,
        "service_candidates": [s.name for s in under],
    }


def _service(service: Service, basis: str) -> dict[str, Any]:
    return {"name": service.name, "state": service.state, "binary_path": service.binary_path, "basis": basis}


def service_to_restart(option: str | None, detected: Mapping[str, object] | None) -> str:
    """The service a change stops and starts: ``service_name`` when given, else the detected one, else ``SMSMSE``."""
    if option:
        return option
    service = (detected or {}).get("service")
    return str(service["name"]) if isinstance(service, Mapping) and service else DEFAULT_SERVICE
