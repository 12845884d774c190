# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_catalog: reference sets in, a signed catalog out, on the controller."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.modules import defs_catalog
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import catalog, catalog_build
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.action_base import DocumentedAction
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError


class ActionModule(DocumentedAction):
    DOCUMENTATION = defs_catalog.DOCUMENTATION
    NO_LOG = ("signing_keys.passphrase",)

    def act(self, options: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._build(options)
        except OSError as exc:
            raise SmsmseError("OPTION_INVALID", f"Cannot write {options['dest']}: {exc}.", path=options["dest"]) from None

    def _build(self, options: dict[str, Any]) -> dict[str, Any]:
        if options["expires_days"] < 1 or options["renew_before_days"] < 0 or options["renew_before_days"] >= options["expires_days"]:
            raise SmsmseError("OPTION_INVALID", "`expires_days` must be at least 1 and more than `renew_before_days` (at least 0).")
        if not options["sets"]:
            raise SmsmseError("OPTION_INVALID", "`sets` is empty: a catalog must list at least one reference set.")
        keys = [catalog_build.load_signing_key(k["path"], k["passphrase"]) for k in options["signing_keys"]]
        if not keys:
            raise SmsmseError("OPTION_INVALID", "`signing_keys` is empty: a catalog must be signed.")
        sets = dict(catalog_build.reference_manifest(folder, required_files=options["required_files"]) for folder in options["sets"])
        if len(sets) != len(options["sets"]):
            raise SmsmseError("OPTION_INVALID", "`sets` names the same version twice.")
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        existing = catalog_build.read_existing(options["dest"])
        old_sequence = existing["signed"].get("sequence") if existing else None
        old_sequence = old_sequence if isinstance(old_sequence, int) else 0
        sequence = options["sequence"] if options["sequence"] is not None else old_sequence + 1
        if existing and sequence < old_sequence:
            raise SmsmseError(
                "OPTION_INVALID", f"`sequence` {sequence} is lower than the existing catalog's {old_sequence}: verifiers would refuse it."
            )
        signed = catalog.signed_part(sets, sequence=sequence, expires=now + dt.timedelta(days=options["expires_days"]))
        renew = dt.timedelta(days=options["renew_before_days"])
        if existing and options["sequence"] is None and catalog_build.still_valid(existing, signed, keys, now=now, renew_before=renew):
            old = existing["signed"]
            return {
                "changed": False,
                "dest": options["dest"],
                "sequence": old["sequence"],
                "expires": old["expires"],
                "versions": sorted(old["sets"]),
                "signed_by": sorted(catalog.keyid(k.public_key()) for k in keys),
            }
        document = catalog.sign(signed, keys)
        if not self._task.check_mode:
            catalog_build.write_atomically(options["dest"], document)
        before = sorted(existing["signed"].get("sets", {})) if existing else []
        return {
            "changed": True,
            "dest": options["dest"],
            "sequence": sequence,
            "expires": signed["expires"],
            "versions": sorted(sets),
            "signed_by": sorted(s["keyid"] for s in document["signatures"]),
            "diff": {
                "before": "".join(f"{v}\n" for v in before) + (f"sequence: {old_sequence}\n" if existing else ""),
                "after": "".join(f"{v}\n" for v in sorted(sets)) + f"sequence: {sequence}\n",
                "before_header": f"{options['dest']} (versions)",
                "after_header": f"{options['dest']} (versions)",
            },
        }
