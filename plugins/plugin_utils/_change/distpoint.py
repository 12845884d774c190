"""Distribution points: what a source is, where a set lives on it, which version to bring (defs_import and the role).

A source is ``liveupdate``, an ``https://`` or ``http://`` URL, a UNC path
(``\\\\server\\share\\smsmse``, Windows hosts) or a full folder path (POSIX
hosts). A distribution point holds set folders named by version, as the vendor
extracts them; the trusted catalog says which versions exist and what every
file is. Everything here runs on the controller, before any host is touched.
"""

from __future__ import annotations

import posixpath
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.snapshot import FileEntry, SetFolder
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import structure, versions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust.catalog import Catalog
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust.problems import Problem
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

LIVEUPDATE = "liveupdate"
URL, UNC, FOLDER = "url", "unc", "folder"
_URL = re.compile(r"^https?://[^/\s?#]+(?:/[^\s]*)?$", re.IGNORECASE)
_UNC = re.compile(r"^\\\\[^\\/]+\\[^\\/]+")

#: source kind -> whether the agent of (POSIX, Windows) hosts can fetch from it, and why not where it cannot
SUPPORTED: dict[str, tuple[bool, bool]] = {URL: (True, True), FOLDER: (True, False), UNC: (False, True)}
UNSUPPORTED_WHY: dict[str, str] = {
    UNC: "a UNC path is read on Windows hosts only; mount the share and give the folder's path",
    FOLDER: "a folder path (/...) is a POSIX host's; give a UNC path (\\\\server\\share\\folder) or a URL",
}


def kind(source: str, option: str = "source") -> str:
    """``liveupdate``, ``url``, ``unc`` or ``folder``; OPTION_INVALID for anything else (a relative path, a bare name,
    a URL with credentials, a query or a fragment: ``option`` is named in the error)."""
    if source == LIVEUPDATE:
        return LIVEUPDATE
    _refuse_url_extras(source, option)
    if _URL.match(source):
        return URL
    if _UNC.match(source):
        return UNC
    if source.startswith("/") and "\0" not in source:
        return FOLDER
    raise SmsmseError(
        "OPTION_INVALID",
        f"The source {source!r} is not liveupdate, an https:// or http:// URL, a UNC path (\\\\server\\share\\folder) "
        "or a full folder path.",
    )


def _refuse_url_extras(source: str, option: str) -> None:
    """OPTION_INVALID for a URL with a user name, password, query or fragment, shown without any of them."""
    if not source.lower().startswith(("https://", "http://")):
        return
    try:
        parts = urllib.parse.urlsplit(source)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return  # not a URL the pattern accepts either: refused below
    shown = f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"
    if parts.username is not None or parts.password is not None:
        raise SmsmseError(
            "OPTION_INVALID",
            f"`{option}`: the URL {shown} carries credentials (user name or password): credentials in a URL are not supported, "
            "as a source is shown in messages and reports. Give the URL without them and serve the distribution point to "
            "the hosts without a login (every file is proven by the trusted catalog), limited by network if need be.",
        )
    for extra, name in ((parts.query, "query (?...)"), (parts.fragment, "fragment (#...)")):
        if extra:
            raise SmsmseError(
                "OPTION_INVALID",
                f"`{option}`: the URL {shown} has a {name}, which is not supported: the version's folder is added to the "
                "URL's path. Give the URL of the folder that holds the version folders, without it.",
            )


def outside(sources: Iterable[str], option: str = "sources") -> list[str]:
    """The sources other than ``liveupdate`` (each checked to be one of the kinds; ``option`` is named in an error)."""
    return [s for s in sources if kind(s, option) != LIVEUPDATE]


def require_catalog(sources: Sequence[str], catalog_given: bool, option: str, sources_option: str = "sources") -> None:
    """CATALOG_REQUIRED, naming ``option``, when an outside source is given without a catalog."""
    found = outside(sources, sources_option)
    if found and not catalog_given:
        raise SmsmseError(
            "CATALOG_REQUIRED",
            f"The source {found[0]} is a distribution point, and `{option}` is not set: "
            "a set from outside the host is installed only when a trusted catalog proves every file of it.",
        )


def replay_warnings(sources: Sequence[str], catalog_state: str | None, option: str) -> list[str]:
    """A warning when a distribution point is used without the catalog state that refuses an older, replayed catalog."""
    found = outside(sources)
    if not found or catalog_state:
        return []
    return [
        f"The source {found[0]} is a distribution point and `{option}` is not set: an older signed catalog, replayed, would "
        f"be accepted and could bring back a set it lists. Set `{option}` to a file on the controller; and never read the "
        "catalog from the distribution point itself."
    ]


def check_platform(source: str, *, windows: bool) -> str:
    """The source's kind, or SOURCE_NOT_SUPPORTED when this host's agent cannot fetch from it."""
    found = kind(source)
    if found != LIVEUPDATE and not SUPPORTED[found][1 if windows else 0]:
        where = "Windows hosts" if windows else "POSIX hosts"
        raise SmsmseError("SOURCE_NOT_SUPPORTED", f"The source {source} cannot be used on {where}: {UNSUPPORTED_WHY[found]}.")
    return found


def check_proxy(proxy: str | None, *, windows: bool, option: str = "proxy") -> str | None:
    """The explicit proxy the Windows agent fetches through (None: the system proxy), or OPTION_INVALID: a proxy that
    is not an http://host[:port] URL, carries credentials, or is given for a POSIX host (whose agent connects
    directly)."""
    if proxy is None:
        return None
    if not windows:
        raise SmsmseError(
            "OPTION_INVALID", f"`{option}` is set, but the POSIX agent connects directly, without a proxy: unset it for POSIX hosts."
        )
    try:
        parts = urllib.parse.urlsplit(proxy) if _URL.match(proxy) else None
        credentials = parts is not None and (parts.username is not None or parts.password is not None)
    except ValueError:
        parts, credentials = None, False
    if credentials:
        raise SmsmseError(
            "OPTION_INVALID",
            f"`{option}` carries credentials: they are not supported. The Windows agent answers an authenticating proxy "
            "with the identity it runs as (Kerberos or NTLM); give the proxy's URL alone.",
        )
    if parts is not None and parts.scheme.lower() == "https":
        raise SmsmseError(
            "OPTION_INVALID",
            f"`{option}` is an https:// URL: the Windows agent (.NET Framework) speaks plain HTTP to a proxy, so give its "
            "http://host:port URL (an https:// source is tunnelled through it with CONNECT, its TLS end to end).",
        )
    if parts is None or parts.path not in ("", "/") or parts.query or parts.fragment or "@" in proxy:
        # never echoed: whatever was given may hold a secret
        raise SmsmseError("OPTION_INVALID", f"`{option}` must be http://host:port (the proxy itself).")
    return proxy


def set_location(source: str, version: str) -> str:
    """Where ``version``'s folder is on the distribution point."""
    separator = "\\" if kind(source) == UNC else "/"
    return source.rstrip("/\\") + separator + version


def listed(catalog: Catalog) -> list[str]:
    """The versions the catalog lists, oldest first."""
    return sorted((v for v in catalog.sets if versions.is_version(v)), key=versions.parse_version)


def structure_problems(catalog: Catalog, version: str, required_files: Iterable[str]) -> list[Problem]:
    """What the structure rule finds in the catalog's entry for ``version`` (no marker, a required file missing, an
    empty, temporary or reserved name, names one to Windows): such an entry is never fetched."""
    files = tuple(
        FileEntry(path=path, size=entry.size, mtime=0.0, link=False, sha256=entry.sha256)
        for path, entry in sorted(catalog.sets[version].files.items())
    )
    folder = SetFolder(name=version, link=False, truncated=False, mtime=0.0, files=files)
    return structure.check_set(folder, where=version, join=posixpath.join, required_files=required_files, hashed=False)


def importable(catalog: Catalog, required_files: Iterable[str]) -> list[str]:
    """The versions the catalog lists whose entry passes the structure rule, oldest first."""
    required = tuple(required_files)
    return [v for v in listed(catalog) if not structure_problems(catalog, v, required)]


def newest_first(trusted: Catalog | None, required_files: Iterable[str]) -> tuple[str, ...]:
    """The versions a distribution point is asked for, newest first: those the catalog lists whose entry passes the
    structure rule (a set fetched that fails it would only be found bad afterwards); none without a catalog."""
    return tuple(reversed(importable(trusted, required_files))) if trusted else ()


def pick_version(catalog: Catalog, wanted: str, required_files: Iterable[str]) -> str:
    """``newest`` -> the newest version the catalog lists whose entry passes the structure rule; else the version asked
    for, which the catalog must list with an entry that passes it."""
    required = tuple(required_files)
    if wanted == "newest":
        found = importable(catalog, required)
        if not found:
            skipped = ", ".join(listed(catalog))
            raise SmsmseError(
                "VERSION_NOT_FOUND",
                "The trusted catalog lists no set to import" + (f": no entry passes the structure checks ({skipped})." if skipped else "."),
            )
        return found[-1]
    if not versions.is_version(wanted):
        raise SmsmseError("OPTION_INVALID", f"`version` is '{wanted}': use newest or YYYYMMDD.RRR.")
    if wanted not in catalog.sets:
        raise SmsmseError("VERSION_NOT_FOUND", f"The trusted catalog does not list {wanted}, so it cannot be imported.")
    problems = structure_problems(catalog, wanted, required)
    if problems:
        raise SmsmseError(
            "CATALOG_INVALID",
            f"The trusted catalog's entry for {wanted} fails the structure checks ({problems[0].code}: {problems[0].message}), "
            "so it is never imported.",
        )
    return wanted


def manifest(catalog: Catalog, version: str) -> dict[str, dict[str, Any]]:
    """The catalog's files of ``version``, as the agent's manifest."""
    return {path: {"size": entry.size, "sha256": entry.sha256} for path, entry in sorted(catalog.sets[version].files.items())}
