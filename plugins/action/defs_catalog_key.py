# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_catalog_key: an Ed25519 key pair on the controller."""

from __future__ import annotations

import os
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.modules import defs_catalog_key
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import catalog, catalog_build
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.action_base import DocumentedAction
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError


def _write_new(path: str, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


class ActionModule(DocumentedAction):
    DOCUMENTATION = defs_catalog_key.DOCUMENTATION
    NO_LOG = ("passphrase",)

    def act(self, options: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        path, passphrase = options["path"], options["passphrase"]
        public_path = options["public_path"] or path + ".pub"
        check = bool(self._task.check_mode)
        try:
            if os.path.exists(path):
                key = catalog_build.load_signing_key(path, passphrase)
                created = False
            else:
                key = catalog_build.generate_key()
                created = True
                if not check:
                    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
                    _write_new(path, catalog_build.private_pem(key, passphrase), 0o600)
            public = catalog_build.public_pem(key)
            write_public = created or not os.path.exists(public_path)
            if write_public and not check:
                with open(public_path, "w", encoding="ascii") as handle:
                    handle.write(public)
        except OSError as exc:
            raise SmsmseError("OPTION_INVALID", f"Cannot write the key files: {exc}.", path=path) from None
        return {
            "changed": created or write_public,
            "keyid": catalog.keyid(key.public_key()),
            "public_key": public,
            "public_path": public_path,
        }
