"""Building and signing catalogs on the controller, from trusted reference sets.

A reference set is a folder named after its version, holding the set exactly
as it should be on every server (for example extracted from a vendor-signed
Intelligent Updater package on a staging machine). It must pass the same
structural checks as a set on a server before it is signed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from ansible_collections.mailsec.smsmse.plugins.module_utils.hashing import sha256_file
from ansible_collections.mailsec.smsmse.plugins.module_utils.scan import list_files
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import snapshot
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.files import NotRegularFile, parse_json, read_regular
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.probe_reply import FileRecord
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import catalog, manifest, structure
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

try:  # guarded as in catalog.py; catalog.require_cryptography() names the fix
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
except ImportError:  # pragma: no cover - depends on the controller
    pass

MAX_FILES = 20000


def reference_manifest(folder: str, *, required_files: Sequence[str]) -> tuple[str, dict[str, manifest.Entry]]:
    """The version and manifest of a reference set; raise when it is not a sound set."""
    path = Path(folder)
    if not path.is_dir() or path.is_symlink():
        raise SmsmseError("OPTION_INVALID", f"The reference set {folder} is not a folder.", path=folder)
    files, truncated = list_files(str(path), MAX_FILES)
    listed = cast(list[FileRecord], files)  # list_files gives the agent's file records
    record = snapshot.set_folder({"name": path.name, "link": False, "files": listed, "truncated": truncated})
    problems = structure.check_set(record, where=str(path), join=os.path.join, required_files=required_files, hashed=False)
    if problems:
        first = problems[0]
        raise SmsmseError(first.code, f"The reference set {folder} is not sound: {first.message}", path=first.path)
    return path.name, {f["path"]: manifest.Entry(size=f["size"], sha256=sha256_file(str(path / f["path"]))) for f in files}


def read_existing(dest: str) -> dict[str, Any] | None:
    """The catalog document at ``dest`` as JSON, or None when there is none (or it is not JSON).

    Its content is not trusted: see :func:`previous_sequence`. A FIFO or a device is refused, never read.
    """
    try:
        document = parse_json(read_regular(dest, catalog.MAX_BYTES))
    except NotRegularFile as exc:
        raise SmsmseError("OPTION_INVALID", f"`dest` {dest} {exc}; remove it or choose another path.", path=dest) from None
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) and isinstance(document.get("signed"), dict) else None


def previous_sequence(existing: Mapping[str, object] | None, keys: Sequence[Ed25519PrivateKey], state_path: str | None) -> int:
    """The highest sequence already used: of the existing catalog when one of ``keys`` signed it, and of the state file.

    An unsigned or foreign ``sequence`` in ``dest`` counts for nothing: anyone who can write that file could
    otherwise push every new catalog past what verifiers accept.
    """
    from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import catalog_state

    signed = catalog.verified_sequence(json.dumps(existing).encode(), [k.public_key() for k in keys]) if existing else None
    stored = catalog_state.last_sequence(state_path) if state_path else None
    return max(signed or 0, stored or 0)


def still_valid(
    existing: Mapping[str, object],
    signed: Mapping[str, object],
    keys: Sequence[Ed25519PrivateKey],
    *,
    now: dt.datetime,
    renew_before: dt.timedelta,
) -> bool:
    """Whether ``existing`` already lists the same sets, signed by exactly these keys, and is not due for renewal."""
    old = existing["signed"]
    if not isinstance(old, Mapping) or old.get("sets") != signed["sets"]:
        return False
    publics = [key.public_key() for key in keys]
    try:  # loading "at" now + renew_before refuses a catalog that expires before then
        loaded = catalog.load(
            json.dumps(existing).encode(),
            source="existing",
            trusted_keys=publics,
            threshold=len(publics),
            now=now + renew_before,
            minimum_sequence=None,
        )
    except (SmsmseError, ValueError):
        return False
    return set(loaded.signed_by) == {catalog.keyid(p) for p in publics}


def write_atomically(dest: str, document: Mapping[str, object]) -> None:
    folder = os.path.dirname(os.path.abspath(dest))
    fd, tmp = tempfile.mkstemp(prefix=".catalog-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=1, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def generate_key() -> Ed25519PrivateKey:
    catalog.require_cryptography()
    return Ed25519PrivateKey.generate()


def readable_by_others(path: str) -> str | None:
    """What is wrong when others than the owner can read or write the private key at ``path``, else None."""
    mode = stat.S_IMODE(os.stat(path).st_mode)
    return f"The private key {path} is mode {mode:04o}: others can read it." if mode & 0o077 else None


def load_signing_key(path: str, passphrase: str | None) -> Ed25519PrivateKey:
    catalog.require_cryptography()
    try:
        with open(path, "rb") as handle:
            data = handle.read(64 * 1024)
        key = serialization.load_pem_private_key(data, password=passphrase.encode() if passphrase else None)
    except OSError as exc:
        raise SmsmseError("KEY_INVALID", f"The signing key {path} cannot be read: {exc.strerror or exc}.", path=path) from None
    except (ValueError, TypeError) as exc:
        raise SmsmseError("KEY_INVALID", f"The signing key {path} cannot be loaded (wrong passphrase?): {exc}.", path=path) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SmsmseError("KEY_INVALID", f"The signing key {path} is not an Ed25519 key.", path=path)
    return key


def private_pem(key: Ed25519PrivateKey, passphrase: str | None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def public_pem(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
