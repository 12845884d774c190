"""Signed known-good catalogs, after The Update Framework.

A catalog lists, per set version, every file's relative path, size and SHA-256
and the digest of the whole set. It is trusted only when all of these hold:

1. it is no larger than :data:`MAX_BYTES` and matches ``schemas/catalog.json``
   (which bounds the number of sets and files);
2. at least ``threshold`` distinct trusted Ed25519 keys signed the canonical
   form of its ``signed`` part (a key listed twice counts once; unknown keys
   and bad signatures count for nothing);
3. it has not expired;
4. its sequence number is not lower than the highest one accepted before
   (see :mod:`catalog_state`): an old catalog cannot be replayed;
5. every path in it is a safe relative path.

The signed bytes are the canonical JSON of ``signed``: keys sorted, no spaces,
UTF-8. Key IDs are the SHA-256 of the raw 32-byte public key, in hex.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import ntfs
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.files import NotRegularFile, parse_json, read_regular
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.option_types import TrustOptions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import manifest
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust.problems import Problem
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

# ansible-core itself depends on cryptography; the import is guarded so that a
# controller without it gets an error that names the fix, not a traceback.
CRYPTOGRAPHY_IMPORT_ERROR: ImportError | None = None
try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
except ImportError as exc:  # pragma: no cover - depends on the controller
    CRYPTOGRAPHY_IMPORT_ERROR = exc


def require_cryptography() -> None:
    if CRYPTOGRAPHY_IMPORT_ERROR is not None:
        detail = f"Catalogs need the Python package 'cryptography' on the controller ({CRYPTOGRAPHY_IMPORT_ERROR})."
        raise SmsmseError("DEPENDENCY_MISSING", detail)


CATALOG_TYPE = "mailsec.smsmse/catalog"
SPEC_VERSION = 1
MAX_BYTES = 16 * 1024 * 1024
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
MAX_SEQUENCE = 2**53 - 1  # the schema's bound: the largest integer every JSON reader keeps exact
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
SCHEMA_PATH = Path(__file__).resolve().parents[3] / "schemas" / "catalog.json"


@dataclass(frozen=True)
class CatalogSet:
    digest: str
    files: dict[str, manifest.Entry]


@dataclass(frozen=True)
class Catalog:
    sequence: int
    expires: dt.datetime
    sets: dict[str, CatalogSet]
    signed_by: tuple[str, ...]

    def summary(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "expires": self.expires.strftime(TIME_FORMAT),
            "versions": len(self.sets),
            "signed_by": list(self.signed_by),
        }


# --- keys ---


def keyid(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def load_public_key(text: str) -> Ed25519PublicKey:
    """A public key from PEM, or from 64 hex digits (the raw key)."""
    require_cryptography()
    stripped = text.strip()
    try:
        if stripped.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(stripped.encode())
        else:
            key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(stripped))
    except ValueError as exc:
        raise SmsmseError("KEY_INVALID", f"A trusted key is neither a PEM public key nor 64 hex digits: {exc}.") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SmsmseError("KEY_INVALID", "A trusted key is not an Ed25519 key.")
    return key


def load_private_key(data: bytes) -> Ed25519PrivateKey:
    require_cryptography()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SmsmseError("KEY_INVALID", f"A signing key is not an unencrypted PEM private key: {exc}.") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SmsmseError("KEY_INVALID", "A signing key is not an Ed25519 key.")
    return key


# --- canonical form, building and signing ---


def canonical(signed: Mapping[str, object]) -> bytes:
    return json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signed_part(sets: Mapping[str, Mapping[str, manifest.Entry]], *, sequence: int, expires: dt.datetime) -> dict[str, Any]:
    """The ``signed`` part of a catalog for the given set manifests."""
    return {
        "_type": CATALOG_TYPE,
        "spec_version": SPEC_VERSION,
        "sequence": sequence,
        "expires": expires.astimezone(dt.timezone.utc).strftime(TIME_FORMAT),
        "sets": {
            version: {
                "digest": manifest.digest(files),
                "files": {path: {"size": entry.size, "sha256": entry.sha256} for path, entry in sorted(files.items())},
            }
            for version, files in sorted(sets.items())
        },
    }


def sign(signed: Mapping[str, object], keys: Iterable[Ed25519PrivateKey]) -> dict[str, Any]:
    """A catalog document: ``signed`` and one signature per key."""
    require_cryptography()
    data = canonical(signed)
    signatures = [{"keyid": keyid(key.public_key()), "sig": key.sign(data).hex()} for key in keys]
    return {"signed": dict(signed), "signatures": signatures}


# --- loading and trusting ---


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def load(
    data: bytes,
    *,
    source: str,
    trusted_keys: Sequence[Ed25519PublicKey],
    threshold: int,
    now: dt.datetime,
    minimum_sequence: int | None,
) -> Catalog:
    """Parse and trust a catalog, or raise :class:`SmsmseError` with the reason it is not trusted."""
    require_cryptography()
    if len(data) > MAX_BYTES:
        raise SmsmseError("CATALOG_TOO_LARGE", f"The catalog {source} is {len(data)} bytes; the limit is {MAX_BYTES}.", path=source)
    try:
        document = parse_json(data)
        errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SmsmseError("CATALOG_INVALID", f"The catalog {source} is not JSON: {exc}.", path=source) from None
    if errors:
        first = errors[0]
        where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.absolute_path)
        code = "CATALOG_TOO_LARGE" if first.validator in ("maxProperties", "maxItems") else "CATALOG_INVALID"
        raise SmsmseError(code, f"The catalog {source} breaks its schema at {where}: {first.message[:200]}.", path=source)
    signed = document["signed"]
    signers = _check_signatures(signed, document["signatures"], trusted_keys, threshold, source)
    expires = dt.datetime.strptime(signed["expires"], TIME_FORMAT).replace(tzinfo=dt.timezone.utc)
    if expires <= now:
        raise SmsmseError("CATALOG_EXPIRED", f"The catalog {source} expired at {signed['expires']}.", path=source)
    if minimum_sequence is not None and signed["sequence"] < minimum_sequence:
        raise SmsmseError(
            "CATALOG_ROLLBACK",
            f"The catalog {source} has sequence {signed['sequence']}, lower than {minimum_sequence} accepted before: "
            "an older catalog is being replayed.",
            path=source,
        )
    sets = {}
    for version, entry in signed["sets"].items():
        files = {}
        for path, record in entry["files"].items():
            device = ntfs.reserved_part(path)
            if device is not None:
                raise SmsmseError(
                    "CATALOG_PATH_RESERVED",
                    f"The catalog {source} lists {path!r} in {version}: Windows opens {device!r} as a device, not a file.",
                    path=source,
                )
            why = manifest.unsafe_path(path)
            if why:
                raise SmsmseError("CATALOG_PATH_UNSAFE", f"The catalog {source} lists {path!r} in {version}, which {why}.", path=source)
            files[path] = manifest.Entry(size=record["size"], sha256=record["sha256"])
        if manifest.digest(files) != entry["digest"]:
            raise SmsmseError(
                "CATALOG_INVALID", f"The catalog {source} gives {version} a digest that does not match its files.", path=source
            )
        sets[version] = CatalogSet(digest=entry["digest"], files=files)
    return Catalog(sequence=signed["sequence"], expires=expires, sets=sets, signed_by=tuple(sorted(signers)))


def verified_sequence(data: bytes, trusted_keys: Sequence[Ed25519PublicKey]) -> int | None:
    """The sequence of a catalog that one of ``trusted_keys`` signed and that meets the schema (expired or not), else None."""
    try:
        return load(data, source="existing", trusted_keys=trusted_keys, threshold=1, now=EPOCH, minimum_sequence=None).sequence
    except SmsmseError:
        return None


def _check_signatures(
    signed: Mapping[str, object], signatures: Sequence[Mapping[str, str]], trusted: Sequence[Ed25519PublicKey], threshold: int, source: str
) -> set[str]:
    by_id = {keyid(key): key for key in trusted}
    data = canonical(signed)
    valid: set[str] = set()
    for signature in signatures:
        key = by_id.get(signature["keyid"])
        if key is None:
            continue
        try:
            key.verify(bytes.fromhex(signature["sig"]), data)
        except (InvalidSignature, ValueError):
            continue
        valid.add(signature["keyid"])
    if len(valid) < threshold:
        raise SmsmseError(
            "CATALOG_SIGNATURE",
            f"The catalog {source} has {len(valid)} valid signature(s) from trusted keys; {threshold} are required.",
            path=source,
        )
    return valid


# --- checking a set against the catalog ---


def check_set(
    catalog: Catalog, version: str, files: Mapping[str, manifest.Entry], *, where: str, join: Callable[..., str]
) -> list[Problem] | None:
    """The set's disagreements with the catalog, or None when the catalog does not list the version.

    Names are compared exactly: a file the catalog lists as ``virscan1.dat`` is not
    ``VIRSCAN1.DAT``, so a set holding both cannot pass one off as the other.
    """
    listed = catalog.sets.get(version)
    if listed is None:
        return None
    expected = listed.files
    found = []
    for path, entry in sorted(files.items()):
        want = expected.get(path)
        if want is None:
            found.append(Problem("CATALOG_FILE_UNLISTED", f"{path} in set {version} is not in the catalog.", join(where, path)))
        elif entry.size != want.size:
            found.append(
                Problem(
                    "CATALOG_SIZE_MISMATCH",
                    f"{path} in set {version} is {entry.size} bytes; the catalog says {want.size}.",
                    join(where, path),
                )
            )
        elif entry.sha256 != want.sha256:
            found.append(
                Problem("CATALOG_HASH_MISMATCH", f"{path} in set {version} does not have the catalog's SHA-256.", join(where, path))
            )
    for path in sorted(expected):
        if path not in files:
            found.append(Problem("CATALOG_FILE_MISSING", f"{path} of set {version} in the catalog is missing.", join(where, path)))
    return found


def load_configured(
    path: str,
    *,
    trusted_keys: Sequence[str],
    threshold: int,
    state_path: str | None,
    now: dt.datetime,
    record_state: bool,
) -> Catalog:
    """Load the catalog a module's options name, enforcing the sequence state when one is kept."""
    from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import catalog_state

    if not trusted_keys:
        raise SmsmseError(
            "OPTION_INVALID", "`catalog` is set but `trusted_keys` is empty: a catalog is only as good as the keys that sign it."
        )
    if not 1 <= threshold <= len(trusted_keys):
        raise SmsmseError(
            "OPTION_INVALID",
            f"`signature_threshold` is {threshold}; it must be from 1 to the number of trusted keys ({len(trusted_keys)}).",
        )
    keys = [load_public_key(text) for text in trusted_keys]
    try:
        data = read_regular(path, MAX_BYTES)
    except NotRegularFile as exc:
        raise SmsmseError("CATALOG_INVALID", f"The catalog {path} {exc}.", path=path) from None
    except OSError as exc:
        raise SmsmseError("CATALOG_INVALID", f"The catalog {path} cannot be read: {exc.strerror or exc}.", path=path) from None
    minimum = catalog_state.last_sequence(state_path) if state_path else None
    loaded = load(data, source=path, trusted_keys=keys, threshold=threshold, now=now, minimum_sequence=minimum)
    if state_path and record_state:
        catalog_state.record(state_path, loaded.sequence)
    return loaded


def from_options(options: TrustOptions, *, record_state: bool) -> Catalog | None:
    """The trusted catalog a module's ``catalog`` options name, or None when no catalog is set."""
    if not options["catalog"]:
        return None
    return load_configured(
        options["catalog"],
        trusted_keys=options["trusted_keys"],
        threshold=options["signature_threshold"],
        state_path=options["catalog_state"],
        now=dt.datetime.now(dt.timezone.utc),
        record_state=record_state,
    )
