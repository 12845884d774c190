"""Store paths that overlap are refused before anything changes, naming both stores (issue 21)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import store_overlap
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run import health_run
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

from .test_health_run import Host, opts_of, versions

OPTS = opts_of("enforce")


def entry(path: str, real: str | None = None) -> dict[str, str | None]:
    return {"path": path, "real_path": real}


@pytest.mark.parametrize(
    ("a", "b", "windows"),
    [
        ("/srv/defs/virusdefs32", "/srv/defs/virusdefs32", False),
        ("/srv/defs/virusdefs32/.", "/srv/defs/virusdefs32", False),
        ("/srv/defs/x/../virusdefs32/", "/srv/defs/virusdefs32", False),
        ("/srv/defs/virusdefs32/csapi", "/srv/defs/virusdefs32", False),
        (r"C:\ProgramData\Symantec\Definitions\SymcData\virusdefs32", r"c:\programdata\symantec\definitions\symcdata\VIRUSDEFS32\.", True),
        (r"C:\Defs\VirusDefs\CSAPI", r"C:\Defs\VirusDefs", True),
    ],
)
def test_overlapping_paths_are_refused_naming_both(a: str, b: str, windows: bool) -> None:
    with pytest.raises(SmsmseError) as caught:
        store_overlap.refuse({"smsmse_hawking": entry(b), "csapi": entry(a)}, windows)
    assert caught.value.code == "OPTION_INVALID"
    assert f"smsmse_hawking ({b})" in str(caught.value) and f"csapi ({a})" in str(caught.value)


@pytest.mark.parametrize(
    ("a", "b", "windows"),
    [("/srv/defs/virusdefs32", "/srv/defs/virusdefs3", False), ("/srv/defs/a", "/srv/defs/b", False), (r"C:\Defs\A", r"C:\Defs\AB", True)],
)
def test_separate_folders_pass(a: str, b: str, windows: bool) -> None:
    store_overlap.refuse({"one": entry(a), "two": entry(b)}, windows)


def test_a_link_to_another_store_is_the_same_folder() -> None:
    with pytest.raises(SmsmseError, match="are the same folder"):
        store_overlap.refuse({"hawking": entry("/srv/hawking"), "csapi": entry("/srv/csapi", "/srv/hawking")}, False)


@pytest.mark.parametrize("how", ["same", "dot", "link"])
def test_verify_refuses_csapi_given_as_the_source_store_and_enforce_changes_nothing(
    lab_factory: Callable[..., Path], tmp_path: Path, how: str
) -> None:
    """The issue's attack: `csapi` set to the SMSMSE Hawking folder (or that path with `/.`, or a link to it); `keep`
    would then delete the product's own source sets. defs_verify refuses the host; the role records it failed."""
    host = Host(lab_factory(lab.LabHost("h", faults=["stale_csapi"])), "h")
    source = host.stores["smsmse_hawking"]
    if how == "link":
        os.symlink(source, tmp_path / "csapi-link")
    host.stores = {**host.stores, "csapi": {"same": source, "dot": f"{source}/.", "link": str(tmp_path / "csapi-link")}[how]}
    before = sorted(p.name for p in Path(source).iterdir())
    with pytest.raises(SmsmseError) as caught:
        host.verified()
    assert caught.value.code == "OPTION_INVALID"
    assert f"smsmse_hawking ({source})" in str(caught.value) and f"csapi ({host.stores['csapi']})" in str(caught.value)
    failed = {"failed": True, "msg": str(caught.value)}  # what the defs_verify task returns for the host
    record = health_run.settle("h", failed, [], OPTS)
    assert record is not None and record["status"] == "failed" and "OPTION_INVALID" in record["message"]
    assert sorted(p.name for p in Path(source).iterdir()) == before, "nothing changed"
    assert len([v for v in before if v in versions()]) == 3
