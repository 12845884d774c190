"""Catalog and key files on the controller, attacked: forged sequences, loose permissions, FIFOs, devices, deep nesting."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ansible_collections.mailsec.smsmse.plugins.action import defs_catalog, defs_catalog_key
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import catalog, catalog_build, catalog_state
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

MAX_SEQUENCE = 2**53 - 1


@pytest.fixture(autouse=True)
def no_hang() -> Iterator[None]:
    """A read that blocks (a FIFO with no writer) fails the test instead of hanging it."""

    def timeout(_signum: int, _frame: Any) -> None:
        raise TimeoutError("blocked")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def run(module: Any, args: dict[str, Any]) -> dict[str, Any]:
    task = MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = False
    task.action = "mailsec.smsmse.x"
    play_context = MagicMock()
    play_context.check_mode = False
    result: dict[str, Any] = module.ActionModule(task, MagicMock(), play_context, MagicMock(), MagicMock(), MagicMock()).run(task_vars={})
    return result


@pytest.fixture
def signing(tmp_path: Path) -> dict[str, Any]:
    """A key pair and a reference set, and the arguments of defs_catalog for them."""
    key = tmp_path / "keys" / "ops1.key"
    assert not run(defs_catalog_key, {"path": str(key)}).get("failed")
    reference = tmp_path / "reference" / "20261125.003"
    reference.mkdir(parents=True)
    (reference / "zdone.dat").write_text("done")
    (reference / "virscan1.dat").write_text("definitions")
    return {
        "dest": str(tmp_path / "catalog.json"),
        "sets": [str(reference)],
        "signing_keys": [{"path": str(key)}],
        "required_files": ["zdone.dat", "virscan1.dat"],
    }


def verify(dest: str, key_path: str, minimum: int | None = None) -> catalog.Catalog:
    public = catalog.load_public_key(Path(key_path + ".pub").read_text())
    return catalog.load(
        Path(dest).read_bytes(),
        source=dest,
        trusted_keys=[public],
        threshold=1,
        now=dt.datetime.now(dt.timezone.utc),
        minimum_sequence=minimum,
    )


# --- the sequence of the next catalog ---


def test_an_unsigned_huge_sequence_in_dest_does_not_wedge_the_verifiers(signing: dict[str, Any]) -> None:
    forged = {"signed": {"sequence": 2**53, "sets": {}}, "signatures": []}
    Path(signing["dest"]).write_text(json.dumps(forged))
    result = run(defs_catalog, signing)
    assert not result.get("failed"), result
    assert result["sequence"] == 1
    assert verify(signing["dest"], signing["signing_keys"][0]["path"]).sequence == 1
    assert any("not signed by these keys" in w for w in result.get("warnings", []))


def test_the_sequence_counts_from_a_verified_catalog_or_the_state(signing: dict[str, Any], tmp_path: Path) -> None:
    first = run(defs_catalog, {**signing, "sequence": 41})
    assert first["sequence"] == 41
    renewed = run(defs_catalog, {**signing, "expires_days": 40, "renew_before_days": 35})
    assert renewed["sequence"] == 42  # one more than the verified 41
    state = str(tmp_path / "state.json")
    catalog_state.record(state, 100)
    assert run(defs_catalog, {**signing, "expires_days": 10, "catalog_state": state})["sequence"] == 101
    lower = run(defs_catalog, {**signing, "sequence": 50, "catalog_state": state})
    assert lower["failed"] and lower["error"]["code"] == "OPTION_INVALID" and "lower than 101" in lower["msg"]


def test_the_sequence_stays_within_the_schema(signing: dict[str, Any]) -> None:
    assert run(defs_catalog, {**signing, "sequence": MAX_SEQUENCE})["sequence"] == MAX_SEQUENCE
    result = run(defs_catalog, {**signing, "expires_days": 20})
    assert result["failed"] and result["error"]["code"] == "OPTION_INVALID"
    assert "cannot go higher" in result["msg"]
    too_big = run(defs_catalog, {**signing, "sequence": MAX_SEQUENCE + 1})
    assert too_big["failed"] and "at most 9007199254740991" in too_big["msg"]


# --- key files ---


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o777])
def test_key_files_modes_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "new" / "keys" / "ops1.key"
    old = os.umask(umask)
    try:
        result = run(defs_catalog_key, {"path": str(path)})
    finally:
        os.umask(old)
    assert not result.get("failed"), result
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(Path(str(path) + ".pub").stat().st_mode) == 0o644


def test_an_existing_private_key_readable_by_others_is_refused_unless_allowed(tmp_path: Path) -> None:
    path = tmp_path / "ops1.key"
    run(defs_catalog_key, {"path": str(path)})
    path.chmod(0o644)
    refused = run(defs_catalog_key, {"path": str(path)})
    assert refused["failed"] and refused["error"]["code"] == "KEY_PERMISSIONS"
    assert f"chmod 600 {path}" in refused["msg"]
    allowed = run(defs_catalog_key, {"path": str(path), "allow_readable_key": True})
    assert not allowed.get("failed") and any("others can read" in w for w in allowed["warnings"])


def test_signing_with_a_key_others_can_read_warns(signing: dict[str, Any]) -> None:
    key = signing["signing_keys"][0]["path"]
    assert run(defs_catalog, signing).get("warnings") == []
    Path(key).chmod(0o640)
    warning = f"The private key {key} is mode 0640: others can read it. Run chmod 600 {key}."
    assert run(defs_catalog, signing)["warnings"] == [warning]  # the catalog is kept as it is, and still warned about
    assert run(defs_catalog, {**signing, "sequence": 9})["warnings"] == [warning]


def test_a_world_writable_public_key_is_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "ops1.key"
    made = run(defs_catalog_key, {"path": str(path)})
    public = Path(str(path) + ".pub")
    public.write_text("-----BEGIN PUBLIC KEY-----\nswapped\n-----END PUBLIC KEY-----\n")
    public.chmod(0o666)
    again = run(defs_catalog_key, {"path": str(path)})
    assert again["changed"] is True
    assert public.read_text() == made["public_key"]
    assert stat.S_IMODE(public.stat().st_mode) == 0o644
    assert run(defs_catalog_key, {"path": str(path)})["changed"] is False


# --- special files and deep nesting ---


def configured(path: str) -> catalog.Catalog:
    key = Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    return catalog.load_configured(
        path, trusted_keys=[key], threshold=1, state_path=None, now=dt.datetime.now(dt.timezone.utc), record_state=False
    )


def test_a_fifo_catalog_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "catalog.json"
    os.mkfifo(fifo)
    with pytest.raises(SmsmseError, match=r"CATALOG_INVALID: .* is a FIFO, not a regular file"):
        configured(str(fifo))
    link = tmp_path / "link.json"
    link.symlink_to(fifo)
    with pytest.raises(SmsmseError, match="is a FIFO"):
        configured(str(link))


def test_a_device_catalog_is_refused() -> None:
    with pytest.raises(SmsmseError, match="is a character device, not a regular file"):
        configured("/dev/zero")


def test_a_fifo_dest_is_refused_without_blocking(signing: dict[str, Any]) -> None:
    os.mkfifo(signing["dest"])
    result = run(defs_catalog, signing)
    assert result["failed"] and "is a FIFO" in result["msg"]


def test_deeply_nested_json_is_invalid_not_a_crash(tmp_path: Path, signing: dict[str, Any]) -> None:
    deep = b"[" * 200000 + b"]" * 200000
    with pytest.raises(SmsmseError, match="CATALOG_INVALID"):
        catalog.load(deep, source="deep", trusted_keys=[], threshold=1, now=dt.datetime.now(dt.timezone.utc), minimum_sequence=None)
    Path(signing["dest"]).write_bytes(deep)
    assert catalog_build.read_existing(signing["dest"]) is None
    assert run(defs_catalog, signing)["sequence"] == 1
    state = tmp_path / "state.json"
    state.write_bytes(b'{"sequence": ' + deep + b"}")
    with pytest.raises(SmsmseError, match="STATE_UNWRITABLE"):
        catalog_state.last_sequence(str(state))
