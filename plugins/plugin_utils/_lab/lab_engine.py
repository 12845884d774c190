"""The Windows agent's C# engine as the lab sends it: every ``plugins/module_utils/*.cs``, compressed.

A lab host served by the Windows agent (``smsmse_defs_lab_agent: windows``) gets the
engine's sources with each call, as a Windows host gets them from Ansible's module
manifest; ``defs_agent_win_lab`` compiles them once per digest with Mono's ``mcs`` into a
private cache on the host. Only those hosts pay for this: the POSIX agent's calls never
reach this module.
"""

from __future__ import annotations

import base64
import json
import zlib
from functools import lru_cache
from pathlib import Path

#: the folder of the engine's sources, shipped with the collection
SOURCES = Path(__file__).resolve().parents[2] / "module_utils"


def sources() -> dict[str, str]:
    """File name -> C# text of every source the engine is built from."""
    found = {path.name: path.read_text(encoding="utf-8") for path in sorted(SOURCES.glob("*.cs"))}
    if not found:
        raise FileNotFoundError(f"no C# sources in {SOURCES}: the collection is incomplete")
    return found


@lru_cache(maxsize=1)
def bundle() -> dict[str, str]:
    """The ``engine`` argument of ``defs_agent_win_lab``: ``{"sources": base64 of zlib of JSON {name: text}}``."""
    packed = zlib.compress(json.dumps(sources(), sort_keys=True).encode("utf-8"), 6)
    return {"sources": base64.b64encode(packed).decode("ascii")}
