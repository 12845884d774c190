# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_catalog_key: an Ed25519 key pair on the controller."""

from __future__ import annotations

import os
from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.mailsec.smsmse.plugins.modules.defs_catalog_key import DOCUMENTATION
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import argspec, catalog, catalog_build
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

ARGUMENT_SPEC = argspec.from_documentation(DOCUMENTATION, no_log=("passphrase",))


def _write_new(path: str, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        result: dict[str, Any] = super().run(tmp, task_vars)
        options = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
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
            result.update(failed=True, msg=f"OPTION_INVALID: cannot write the key files: {exc}")
            return result
        except SmsmseError as exc:
            result.update(failed=True, msg=str(exc), error=exc.as_dict())
            return result
        result.update(changed=created or write_public, keyid=catalog.keyid(key.public_key()), public_key=public, public_path=public_path)
        return result
