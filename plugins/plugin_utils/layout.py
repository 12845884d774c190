"""Where SMSMSE keeps its definition stores on each Windows platform.

The table is the vendor article's, as data. Paths are templates: ``%VAR%`` is
expanded by the agent on the host, since only the host knows its own
``%ProgramData%`` and ``%CommonProgramFiles(x86)%``. The article spells two of
these paths "Defintions"/"defintions": that is a typo there, not a real folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STORE_NAMES: tuple[str, ...] = ("hawking", "smsmse_hawking", "csapi")

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

_X64_ARCHES = frozenset({"amd64", "x86_64", "x64", "arm64", "ia64"})


def platform_for(host: Mapping[str, Any]) -> str | None:
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
    """Every template ``store`` may live at, in table order, without repeats."""
    found: list[str] = []
    for layout in LAYOUTS.values():
        template = layout[store]
        if template is not None and template not in found:
            found.append(template)
    return found


def choose(store: str, platform: str | None, existing: list[str]) -> str | None:
    """Pick one template among those that exist on the host.

    The host's own platform row wins; otherwise the first existing candidate in
    table order (an upgraded server can carry an older layout).
    """
    if platform is not None:
        preferred = LAYOUTS[platform][store]
        if preferred in existing:
            return preferred
    for template in candidates(store):
        if template in existing:
            return template
    return None
