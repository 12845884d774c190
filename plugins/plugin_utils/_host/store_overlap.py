"""Store paths that overlap are refused before anything changes (issue 21).

Each store must be a folder of its own: the same folder given twice, or one
store inside another, would let one store's clean-up (``keep``, quarantine,
clean) delete another's sets, the product's own source sets included. Paths are
compared after normalising ``.`` and ``..``, in the host's case rules (NTFS
ignores case), and through links where the agent reports the folder's real
path (``real_path``).
"""

from __future__ import annotations

import ntpath
import posixpath
from collections.abc import Mapping
from itertools import combinations

from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError


def normal(path: str, windows: bool) -> str:
    """``path`` with ``.``, ``..`` and repeated separators resolved (and upper-cased on Windows), without a trailing separator."""
    if windows:
        return ntpath.normpath(path.replace("/", "\\")).rstrip("\\").upper() or "\\"
    return posixpath.normpath(path).rstrip("/") or "/"


def _within(inner: str, outer: str, windows: bool) -> bool:
    separator = "\\" if windows else "/"
    return inner == outer or inner.startswith(outer.rstrip(separator) + separator)


def _paths(entry: Mapping[str, object], windows: bool) -> set[str]:
    found = {normal(str(entry["path"]), windows)}
    if entry.get("real_path"):
        found.add(normal(str(entry["real_path"]), windows))
    return found


def refuse(stores: Mapping[str, Mapping[str, object]], windows: bool) -> None:
    """OPTION_INVALID naming both stores when two of them are one folder or one lies inside the other."""
    for (first, a), (second, b) in combinations(stores.items(), 2):
        for pa in _paths(a, windows):
            for pb in _paths(b, windows):
                if _within(pa, pb, windows) or _within(pb, pa, windows):
                    how = "are the same folder" if pa == pb else "overlap: one is inside the other"
                    raise SmsmseError(
                        "OPTION_INVALID",
                        f"The stores {first} ({a['path']}) and {second} ({b['path']}) {how}; a change to one would delete or "
                        "move the other's sets. Give each store its own folder (`stores`, `smsmse_defs_stores`).",
                    )
