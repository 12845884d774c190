"""Signed catalogs, attacked as The Update Framework's threat model lists."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import catalog, catalog_state, manifest
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)
KEYS = [Ed25519PrivateKey.generate() for _key in range(3)]
PUBLIC = [k.public_key() for k in KEYS]
SETS = {
    "20261124.002": {"virscan1.dat": manifest.Entry(10, "1" * 64), "zdone.dat": manifest.Entry(0, "2" * 64)},
    "20261125.003": {"virscan1.dat": manifest.Entry(11, "3" * 64), "zdone.dat": manifest.Entry(0, "2" * 64)},
}


def document(
    sequence: int = 5, expires: dt.datetime = NOW + dt.timedelta(days=10), keys: list[Ed25519PrivateKey] | None = None
) -> dict[str, Any]:
    return catalog.sign(catalog.signed_part(SETS, sequence=sequence, expires=expires), keys if keys is not None else KEYS[:2])


def load(doc: Any, *, threshold: int = 2, minimum: int | None = None, trusted: list[Any] | None = None) -> catalog.Catalog:
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return catalog.load(data, source="cat.json", trusted_keys=trusted or PUBLIC, threshold=threshold, now=NOW, minimum_sequence=minimum)


def code_of(doc: Any, **kwargs: Any) -> str:
    with pytest.raises(SmsmseError) as caught:
        load(doc, **kwargs)
    return caught.value.code


def test_a_good_catalog_is_trusted() -> None:
    loaded = load(document())
    assert loaded.sequence == 5
    assert sorted(loaded.sets) == sorted(SETS)
    assert set(loaded.signed_by) == {catalog.keyid(p) for p in PUBLIC[:2]}
    assert loaded.sets["20261125.003"].digest == manifest.digest(SETS["20261125.003"])


def test_forged_signature() -> None:
    doc = document()
    doc["signatures"][0]["sig"] = "00" * 64
    assert code_of(doc) == "CATALOG_SIGNATURE"


def test_tampered_content_breaks_every_signature() -> None:
    doc = document()
    doc["signed"]["sets"]["20261125.003"]["files"]["virscan1.dat"]["sha256"] = "4" * 64
    assert code_of(doc, threshold=1) == "CATALOG_SIGNATURE"


def test_too_few_signatures() -> None:
    assert code_of(document(keys=KEYS[:1]), threshold=2) == "CATALOG_SIGNATURE"


def test_same_key_twice_counts_once() -> None:
    doc = document(keys=KEYS[:1])
    doc["signatures"].append(copy.deepcopy(doc["signatures"][0]))
    assert code_of(doc, threshold=2) == "CATALOG_SIGNATURE"


def test_unknown_key_counts_for_nothing() -> None:
    stranger = Ed25519PrivateKey.generate()
    assert code_of(document(keys=[KEYS[0], stranger]), threshold=2) == "CATALOG_SIGNATURE"
    assert load(document(keys=[KEYS[0], stranger]), threshold=1).signed_by == (catalog.keyid(PUBLIC[0]),)


def test_signature_by_untrusted_key_claiming_a_trusted_keyid() -> None:
    stranger = Ed25519PrivateKey.generate()
    doc = document(keys=[stranger])
    doc["signatures"][0]["keyid"] = catalog.keyid(PUBLIC[0])
    assert code_of(doc, threshold=1) == "CATALOG_SIGNATURE"


def test_expired_catalog() -> None:
    assert code_of(document(expires=NOW - dt.timedelta(seconds=1))) == "CATALOG_EXPIRED"


def test_lower_sequence_is_a_rollback_attack() -> None:
    assert code_of(document(sequence=4), minimum=5) == "CATALOG_ROLLBACK"
    assert load(document(sequence=5), minimum=5).sequence == 5


def test_oversized_catalog() -> None:
    assert code_of(b" " * (catalog.MAX_BYTES + 1)) == "CATALOG_TOO_LARGE"
    many = {f"2026{m:02d}{d:02d}.{r:03d}": SETS["20261124.002"] for m in range(1, 10) for d in range(1, 29) for r in range(1, 4)}
    doc = catalog.sign(catalog.signed_part(many, sequence=1, expires=NOW + dt.timedelta(days=1)), KEYS[:2])
    assert len(many) > 512
    assert code_of(doc) == "CATALOG_TOO_LARGE"


@pytest.mark.parametrize("path", ["../virscan1.dat", "..\\virscan1.dat", "/etc/passwd", "C:/x.dat", "\\\\srv\\share\\x.dat", "a/../../b"])
def test_path_traversal_in_a_catalog(path: str) -> None:
    sets = {"20261125.003": {path: manifest.Entry(1, "5" * 64)}}
    doc = catalog.sign(catalog.signed_part(sets, sequence=1, expires=NOW + dt.timedelta(days=1)), KEYS[:2])
    assert code_of(doc) == "CATALOG_PATH_UNSAFE"


@pytest.mark.parametrize("path", ["NUL", "con.dat", "sub/aux.dat", "COM\u00b9", "lpt1.dat ", "Nul .txt"])
def test_a_catalog_naming_a_windows_device_is_refused(path: str) -> None:
    sets = {"20261125.003": {**SETS["20261125.003"], path: manifest.Entry(1, "5" * 64)}}
    doc = catalog.sign(catalog.signed_part(sets, sequence=1, expires=NOW + dt.timedelta(days=1)), KEYS[:2])
    with pytest.raises(SmsmseError) as caught:
        load(doc)
    assert caught.value.code == "CATALOG_PATH_RESERVED"
    assert repr(path) in str(caught.value)


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.pop("signatures"),
        lambda d: d["signed"].update(_type="other"),
        lambda d: d["signed"].update(sequence=-1),
        lambda d: d["signed"]["sets"].update({"not-a-version": d["signed"]["sets"]["20261125.003"]}),
        lambda d: d["signed"]["sets"]["20261125.003"].update(digest="6" * 64),
    ],
)
def test_malformed_catalogs(change: Any) -> None:
    doc = document()
    change(doc)
    if "signatures" in doc:  # re-sign, so that only the malformation is tested
        doc = catalog.sign(doc["signed"], KEYS[:2])
    assert code_of(doc) == "CATALOG_INVALID"
    assert code_of(b"{not json") == "CATALOG_INVALID"


def test_set_against_catalog() -> None:
    loaded = load(document())
    join = "/".join

    def check(files: dict[str, manifest.Entry], version: str = "20261125.003") -> list[str] | None:
        found = catalog.check_set(loaded, version, files, where="/s", join=lambda *p: join(p))
        return None if found is None else [p.code for p in found]

    good = SETS["20261125.003"]
    assert check(good) == []
    upper = check({k.upper(): v for k, v in good.items()})  # names are compared exactly
    assert upper is not None and sorted(set(upper)) == ["CATALOG_FILE_MISSING", "CATALOG_FILE_UNLISTED"]
    assert check({**good, "VIRSCAN1.DAT": good["virscan1.dat"]}) == ["CATALOG_FILE_UNLISTED"]
    assert check(good, version="20200101.001") is None
    assert check({**good, "extra.dat": manifest.Entry(1, "7" * 64)}) == ["CATALOG_FILE_UNLISTED"]
    assert check({"zdone.dat": good["zdone.dat"]}) == ["CATALOG_FILE_MISSING"]
    assert check({**good, "virscan1.dat": manifest.Entry(3, good["virscan1.dat"].sha256)}) == ["CATALOG_SIZE_MISMATCH"]
    assert check({**good, "virscan1.dat": manifest.Entry(11, "8" * 64)}) == ["CATALOG_HASH_MISMATCH"]


def test_a_set_mixing_files_of_two_versions() -> None:
    mixed = {"virscan1.dat": SETS["20261124.002"]["virscan1.dat"], "zdone.dat": SETS["20261125.003"]["zdone.dat"]}
    found = catalog.check_set(load(document()), "20261125.003", mixed, where="/s", join=lambda *p: "/".join(p))
    assert found is not None and [p.code for p in found] == ["CATALOG_SIZE_MISMATCH"]


def test_keys_in_pem_and_hex() -> None:
    pem = PUBLIC[0].public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    raw = PUBLIC[0].public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    assert catalog.keyid(catalog.load_public_key(pem)) == catalog.keyid(catalog.load_public_key(raw)) == catalog.keyid(PUBLIC[0])
    for bad in ("not a key", "ab" * 31):
        with pytest.raises(SmsmseError, match="KEY_INVALID"):
            catalog.load_public_key(bad)


def test_load_configured_records_and_enforces_the_sequence(tmp_path: Path) -> None:
    path, state = tmp_path / "cat.json", str(tmp_path / "state" / "seq.json")
    keys = [p.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex() for p in PUBLIC]
    path.write_text(json.dumps(document(sequence=7)))
    options = {"trusted_keys": keys, "threshold": 2, "state_path": state, "now": NOW}
    catalog.load_configured(str(path), record_state=False, **options)  # type: ignore[arg-type]
    assert catalog_state.last_sequence(state) is None
    catalog.load_configured(str(path), record_state=True, **options)  # type: ignore[arg-type]
    assert catalog_state.last_sequence(state) == 7
    path.write_text(json.dumps(document(sequence=6)))
    with pytest.raises(SmsmseError, match="CATALOG_ROLLBACK"):
        catalog.load_configured(str(path), record_state=True, **options)  # type: ignore[arg-type]
    with pytest.raises(SmsmseError, match=r"OPTION_INVALID.*trusted_keys"):
        catalog.load_configured(str(path), record_state=True, **{**options, "trusted_keys": []})  # type: ignore[arg-type]
    with pytest.raises(SmsmseError, match=r"OPTION_INVALID.*signature_threshold"):
        catalog.load_configured(str(path), record_state=True, **{**options, "threshold": 4})  # type: ignore[arg-type]


def test_existing_catalog_is_kept_until_it_nears_expiry() -> None:
    from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import catalog_build

    signed = catalog.signed_part(SETS, sequence=1, expires=NOW + dt.timedelta(days=10))
    existing = catalog.sign(signed, KEYS[:2])
    week = dt.timedelta(days=7)
    assert catalog_build.still_valid(existing, signed, KEYS[:2], now=NOW, renew_before=week) is True
    assert catalog_build.still_valid(existing, signed, KEYS[:2], now=NOW, renew_before=dt.timedelta(days=11)) is False
    assert catalog_build.still_valid(existing, signed, KEYS[:3], now=NOW, renew_before=week) is False  # another signer wanted
    other = catalog.signed_part({"20261124.002": SETS["20261124.002"]}, sequence=1, expires=NOW + dt.timedelta(days=10))
    assert catalog_build.still_valid(existing, other, KEYS[:2], now=NOW, renew_before=week) is False  # other sets
