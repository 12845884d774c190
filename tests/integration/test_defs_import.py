"""defs_import against lab hosts: from a folder and from HTTPS (Debian's nginx on 127.0.0.1), then into CSAPI.

A host whose every set is bad and whose LiveUpdate fails gets the newest catalogued set from a distribution point,
byte for byte; check mode changes nothing; a second run changes nothing; a distribution point serving one changed
byte never gets the set into any store; without a catalog the module refuses before the host is touched.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import catalog, catalog_build, structure

from .runner import Run, playbook

pytestmark = pytest.mark.integration


@pytest.fixture(params=lab.AGENTS)
def lab_agent(request: pytest.FixtureRequest) -> str:
    """Both agents fetch: the POSIX agent, and the Windows agent's engine under mono."""
    return str(request.param)


TODAY = dt.datetime.now(dt.timezone.utc).date()
NEWEST = lab.liveupdate_version(TODAY)  # the newest reference set: no lab host holds it

PLAY = """
- name: Import from a distribution point
  hosts: smsmse_lab
  gather_facts: false
  tasks:
    - name: Import
      mailsec.smsmse.defs_import:
        source: "{{ point }}"
        store: smsmse_hawking
        catalog: "{{ catalog_path | default(omit) }}"
        trusted_keys: "{{ trusted_keys }}"
        ca_path: "{{ ca | default(omit) }}"
        timeout: 5
      register: imported
      ignore_errors: true
    - name: Promote what came in
      mailsec.smsmse.defs_promote:
        catalog: "{{ catalog_path }}"
        trusted_keys: "{{ trusted_keys }}"
      register: promoted
      when: promote | default(false) and imported is succeeded
    - name: Keep the results
      ansible.builtin.copy:
        content: "{{ {'imported': imported, 'promoted': promoted} | to_json }}"
        dest: "{{ smsmse_facts_dir }}/{{ inventory_hostname }}.json"
        mode: "0600"
      delegate_to: localhost
      check_mode: false
"""


def sign_catalog(root: Path, tmp: Path) -> dict[str, Any]:
    key = catalog_build.generate_key()
    sets = dict(
        catalog_build.reference_manifest(str(f), required_files=structure.DEFAULT_REQUIRED_FILES)
        for f in sorted((root / "reference").iterdir())
    )
    expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30)
    document = catalog.sign(catalog.signed_part(sets, sequence=1, expires=expires), [key])
    path = tmp / "catalog.json"
    path.write_text(json.dumps(document))
    return {"catalog_path": str(path), "trusted_keys": [catalog_build.public_pem(key)]}


def run(inventory: Path, tmp: Path, name: str, *args: str, **extra: Any) -> Run:
    (tmp / "play.yml").write_text(PLAY)
    return playbook(str(tmp / "play.yml"), inventory, tmp / name, *args, extra=extra)


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def broken_host(lab_factory: Callable[..., Path]) -> Path:
    return lab_factory(lab.LabHost("isolated", faults=["all_corrupt"], liveupdate="fails"))


def test_from_a_folder_check_mode_then_real_then_idempotent(broken_host: Path, tmp_path: Path) -> None:
    root, host = broken_host.parent, broken_host.parent / "hosts" / "isolated"
    trust = sign_catalog(root, tmp_path)
    before = tree(host)
    checked = run(broken_host, tmp_path, "check", "--check", "--diff", point=str(root / "reference"), **trust)
    result = checked.results["isolated"]["imported"]
    assert result["changed"] is True and result["imported"] is True, result
    assert result["source"] == f"{root / 'reference'}/{NEWEST}"
    assert tree(host) == before, "check mode changed the host"
    assert "(sets of smsmse_hawking)" in checked.output

    done = run(broken_host, tmp_path, "real", point=str(root / "reference"), promote=True, **trust)
    result = done.results["isolated"]
    assert result["imported"]["changed"] is True, result["imported"]
    assert result["imported"]["version"] == NEWEST
    assert result["promoted"]["changed"] is True and result["promoted"]["version"] == NEWEST, result["promoted"]
    for store in ("smsmse_hawking", "csapi"):
        assert tree(host / store / NEWEST) == tree(root / "reference" / NEWEST), store
        assert f"CurDefs={NEWEST}" in (host / store / "definfo.dat").read_text()
    assert not [p for p in (host / "smsmse_hawking").iterdir() if p.name.startswith(".smsmse-")]
    events = [json.loads(line) for line in (host / "events.jsonl").read_text().splitlines()]
    assert [e["id"] for e in events if e["id"] >= 1000][-2:] == [1000, 1000]

    again = run(broken_host, tmp_path, "again", point=str(root / "reference"), **trust)
    assert again.results["isolated"]["imported"]["changed"] is False, again.results["isolated"]["imported"]


def test_one_changed_byte_never_reaches_a_store(broken_host: Path, tmp_path: Path) -> None:
    root, host = broken_host.parent, broken_host.parent / "hosts" / "isolated"
    trust = sign_catalog(root, tmp_path)
    point = tmp_path / "point"
    shutil.copytree(root / "reference", point)
    lab.tamper_keep_mtime(point / NEWEST / "virscan1.dat")
    before = tree(host)
    done = run(broken_host, tmp_path, "tampered", point=str(point), **trust)
    result = done.results["isolated"]["imported"]
    assert result["failed"] is True and result["changed"] is False
    assert result["error"]["code"] == "SOURCE_MISMATCH", result["msg"]
    assert str(point / NEWEST) in result["msg"] and "virscan1.dat" in result["msg"]
    assert tree(host) == before, "a refused set left something in a store"


def test_without_a_catalog_nothing_is_touched(broken_host: Path, tmp_path: Path) -> None:
    root = broken_host.parent
    done = run(broken_host, tmp_path, "no-catalog", point=str(root / "reference"), trusted_keys=[])
    result = done.results["isolated"]["imported"]
    assert result["failed"] is True and result["error"]["code"] == "CATALOG_REQUIRED", result
    assert "`catalog`" in result["msg"]
    assert done.agent_calls("isolated") == 0


def test_credentials_in_the_url_are_refused_and_never_shown(broken_host: Path, tmp_path: Path) -> None:
    trust = sign_catalog(broken_host.parent, tmp_path)
    done = run(broken_host, tmp_path, "credentials", point="https://mirror:s3cret@127.0.0.1:9/smsmse", **trust)
    result = done.results["isolated"]["imported"]
    assert result["failed"] is True and result["error"]["code"] == "OPTION_INVALID", result
    assert "`source`" in result["msg"] and "credentials in a URL are not supported" in result["msg"]
    assert "s3cret" not in done.output and "s3cret" not in json.dumps(result)
    assert done.agent_calls("isolated") == 0


def test_over_https_from_nginx(broken_host: Path, tmp_path: Path, https_distpoint: Callable[..., Any]) -> None:
    root, host = broken_host.parent, broken_host.parent / "hosts" / "isolated"
    trust = sign_catalog(root, tmp_path)
    server = https_distpoint(root / "reference")
    unknown_ca = run(broken_host, tmp_path, "tls", point=server.url, **trust)
    assert unknown_ca.results["isolated"]["imported"]["error"]["code"] == "SOURCE_TLS"
    done = run(broken_host, tmp_path, "https", point=server.url, ca=str(server.pki.ca), promote=True, **trust)
    result = done.results["isolated"]
    assert result["imported"]["changed"] is True, result["imported"]
    assert result["promoted"]["version"] == NEWEST, result["promoted"]
    assert tree(host / "csapi" / NEWEST) == tree(root / "reference" / NEWEST)
