# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_catalog_key: an Ed25519 key pair on the controller."""

from __future__ import annotations

import os
import stat
import tempfile
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.modules import defs_catalog_key
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.action_base import DocumentedAction, TaskVars
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.option_types import CatalogKeyOptions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import catalog, catalog_build
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

PRIVATE_MODE, FOLDER_MODE, PUBLIC_MODE = 0o600, 0o700, 0o644


def _make_folder(folder: str) -> None:
    """Create the key folder (0700 whatever the umask); an existing folder is left as it is."""
    if os.path.isdir(folder):
        return
    os.makedirs(folder, mode=FOLDER_MODE)
    os.chmod(folder, FOLDER_MODE)


def _write_private(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), PRIVATE_MODE)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), PRIVATE_MODE)  # the umask may have taken bits the owner needs
        handle.write(data)


def _write_public(path: str, text: str) -> None:
    """Replace the public key file atomically, mode 0644 whatever the umask."""
    fd, tmp = tempfile.mkstemp(prefix=".catalog-key-", dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            os.fchmod(handle.fileno(), PUBLIC_MODE)
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _public_is_right(path: str, text: str) -> bool:
    """Whether the public key file holds this key and no one but its owner can change it."""
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return False
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read(64 * 1024) == text
    except OSError:
        return False


def _loose_private_key(path: str, allowed: bool) -> list[str]:
    """Refuse (or warn about, when allowed) an existing private key that others can read."""
    detail = catalog_build.readable_by_others(path)
    if detail is None:
        return []
    if not allowed:
        raise SmsmseError("KEY_PERMISSIONS", f"{detail} chmod 600 {path} fixes the mode.", path=path)
    return [f"{detail} Run chmod 600 {path}."]


class ActionModule(DocumentedAction[CatalogKeyOptions]):
    DOCUMENTATION = defs_catalog_key.DOCUMENTATION
    NO_LOG = ("passphrase",)

    def act(self, options: CatalogKeyOptions, task_vars: TaskVars) -> dict[str, Any]:
        path, passphrase = options["path"], options["passphrase"]
        public_path = options["public_path"] or path + ".pub"
        check = bool(self._task.check_mode)
        warnings: list[str] = []
        try:
            if os.path.exists(path):
                warnings = _loose_private_key(path, options["allow_readable_key"])
                key = catalog_build.load_signing_key(path, passphrase)
                created = False
            else:
                key = catalog_build.generate_key()
                created = True
                if not check:
                    _make_folder(os.path.dirname(os.path.abspath(path)))
                    _write_private(path, catalog_build.private_pem(key, passphrase))
            public = catalog_build.public_pem(key)
            write_public = created or not _public_is_right(public_path, public)
            if write_public and not check:
                _make_folder(os.path.dirname(os.path.abspath(public_path)))
                _write_public(public_path, public)
        except OSError as exc:
            raise SmsmseError("OPTION_INVALID", f"Cannot write the key files: {exc}.", path=path) from None
        return {
            "changed": created or write_public,
            "keyid": catalog.keyid(key.public_key()),
            "public_key": public,
            "public_path": public_path,
            "warnings": warnings,
        }
