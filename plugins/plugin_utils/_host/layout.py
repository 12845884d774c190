"""Where SMSMSE keeps its definition stores on each Windows platform.

The table is the vendor article's, as data. Paths are templates: ``%VAR%`` is
expanded by the agent on the host, since only the host knows its own
``%ProgramData%`` and ``%CommonProgramFiles(x86)%``. The article spells two of
these paths "Defintions"/"defintions": that is a typo there, not a real folder;
the literal spellings are still probed, last, in case a server was set up by the
letter of the article.

Where several candidates of one store exist, :func:`choose` takes the one that
holds definitions (``definfo.dat`` or version folders), never a folder that is an
ancestor of another existing candidate (the 2008 CSAPI path is the parent of the
2003 one: taking it would read the child's sets as a stray folder, and hash them
twice), then the host's own platform row, then table order.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import ntfs, store_names
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.probe_reply import StoreRecord

STORE_NAMES = store_names.STORE_NAMES

#: platform id -> store name -> path template (None: the platform has no such store)
LAYOUTS: dict[str, dict[str, str | None]] = {
    "x86": {
        "hawking": r"%CommonProgramFiles%\Symantec Shared\VirusDefs",
        "smsmse_hawking": None,
        "csapi": r"%CommonProgramFiles%\Symantec Shared\definitions\AntiVirus\VirusDefs",
    },
    "windows2003_x64": {
        "hawking": r"%CommonProgramFiles(x86)%\Symantec Shared\VirusDefs",
        "smsmse_hawking": r"%CommonProgramFiles(x86)%\Symantec Shared\SymcData\virusdefs32",
        "csapi": r"%CommonProgramFiles(x86)%\Symantec Shared\definitions\AntiVirus\VirusDefs",
    },
    "windows2008": {
        "hawking": r"%ProgramData%\Symantec\Definitions\VirusDefs",
        "smsmse_hawking": r"%ProgramData%\Symantec\Definitions\SymcData\virusdefs32",
        "csapi": r"%CommonProgramFiles(x86)%\Symantec Shared\definitions\AntiVirus",
    },
}

#: the article's literal misspellings, probed after every real candidate
SEED_SPELLINGS: dict[str, tuple[str, ...]] = {
    "hawking": (r"%ProgramData%\Symantec\Defintions\VirusDefs",),
    "smsmse_hawking": (),
    "csapi": (r"%CommonProgramFiles(x86)%\Symantec Shared\defintions\AntiVirus",),
}

_X64_ARCHES = frozenset({"amd64", "x86_64", "x64", "arm64", "ia64"})


def platform_for(host: Mapping[str, object]) -> str | None:
    """The layout of a Windows host from the probe's ``host`` record, or None for other systems."""
    if host.get("os") != "windows":
        return None
    if str(host.get("arch", "")).lower() not in _X64_ARCHES:
        return "x86"
    major = _major(str(host.get("os_version", "")))
    return "windows2003_x64" if major is not None and major < 6 else "windows2008"


def _major(version: str) -> int | None:
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def candidates(store: str) -> list[str]:
    """Every template ``store`` may live at: table order without repeats, then the article's misspellings."""
    found: list[str] = []
    for layout in LAYOUTS.values():
        template = layout[store]
        if template is not None and template not in found:
            found.append(template)
    found.extend(t for t in SEED_SPELLINGS[store] if t not in found)
    return found


def _folder(path: str) -> str:
    """A Windows path as NTFS compares it: one separator, no trailing one, through NTFS's upcase table (:func:`ntfs.upper`)."""
    return ntfs.upper(path.replace("/", "\\").rstrip("\\"))


def _is_ancestor(path: str, other: str) -> bool:
    return _folder(other).startswith(_folder(path) + "\\")


def choose(
    store: str,
    platform: str | None,
    existing: list[str],
    *,
    holding: Collection[str] = (),
    paths: Mapping[str, str] | None = None,
) -> str | None:
    """Pick one template among those that exist on the host.

    ``holding``: the existing templates whose folder holds ``definfo.dat`` or version
    folders; ``paths``: each template as the host expanded it (ancestry is decided on
    those). Those that hold definitions win over those that do not; among what is
    left, a folder that is an ancestor of another is never taken; then the host's own
    platform row, then :func:`candidates` order (the article's misspellings last).
    """
    where = paths or {}
    pool = [t for t in existing if t in holding] or list(existing)
    pool = [t for t in pool if not any(_is_ancestor(where.get(t, t), where.get(o, o)) for o in pool if o != t)]
    if platform is not None:
        preferred = LAYOUTS[platform][store]
        if preferred in pool:
            return preferred
    for template in candidates(store):
        if template in pool:
            return template
    return pool[0] if pool else None


_VERSION_NAME = re.compile(r"[0-9]{8}\.[0-9]{3}", re.ASCII)


def choose_entry(store: str, platform: str | None, entries: Sequence[StoreRecord]) -> StoreRecord | None:
    """The probe reply's entry of ``store`` to use, among its candidates (see :func:`choose`).

    ``entries`` are the reply's store records of that name; one that exists and holds
    ``definfo.dat`` or a folder named like a version holds definitions.
    """
    found = [e for e in entries if e["exists"]]
    holding = {e["template"] for e in found if e["definfo"]["present"] or any(_VERSION_NAME.fullmatch(d["name"]) for d in e["dirs"])}
    template = choose(store, platform, [e["template"] for e in found], holding=holding, paths={e["template"]: e["path"] for e in found})
    return next((e for e in found if e["template"] == template), None)
