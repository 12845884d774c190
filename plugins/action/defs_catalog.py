# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_catalog: reference sets in, a signed catalog out, on the controller."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ansible_collections.mailsec.smsmse.plugins.modules import defs_catalog
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.action_base import DocumentedAction, TaskVars
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.option_types import CatalogOptions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import catalog, catalog_build
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

if TYPE_CHECKING:  # cryptography is imported where it is used (catalog.require_cryptography names the fix)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def _next_sequence(wanted: int | None, previous: int) -> int:
    if wanted is None:
        if previous >= catalog.MAX_SEQUENCE:
            raise SmsmseError(
                "OPTION_INVALID",
                f"The last catalog's sequence is {previous}, the largest the catalog schema allows: it cannot go higher. "
                "Verifiers must start over: give them a new `catalog_state` file and sign with `sequence: 1`.",
            )
        return previous + 1
    if not 0 <= wanted <= catalog.MAX_SEQUENCE:
        raise SmsmseError("OPTION_INVALID", f"`sequence` {wanted} must be from 0 to at most {catalog.MAX_SEQUENCE} (the catalog schema).")
    if wanted < previous:
        raise SmsmseError(
            "OPTION_INVALID",
            f"`sequence` {wanted} is lower than {previous}, the highest already used (the existing catalog or `catalog_state`): "
            "verifiers would refuse it.",
        )
    return wanted


def _ignored_sequence(dest: str, existing: Mapping[str, object] | None, keys: Sequence[Ed25519PrivateKey]) -> list[str]:
    """A warning when ``dest`` holds a sequence that was not taken, because these keys did not sign it.

    ``existing``: the document :func:`catalog_build.read_existing` read (its ``signed`` part is a mapping), or None.
    """
    signed = existing["signed"] if existing else None
    if not isinstance(signed, Mapping) or "sequence" not in signed:
        return []
    if catalog.verified_sequence(json.dumps(existing).encode(), [k.public_key() for k in keys]) is not None:
        return []
    return [
        f"The existing catalog {dest} is not signed by these keys (or breaks the catalog schema): "
        f"its sequence {str(signed['sequence'])[:40]} was ignored."
    ]


class ActionModule(DocumentedAction[CatalogOptions]):
    DOCUMENTATION = defs_catalog.DOCUMENTATION
    NO_LOG = ("signing_keys.passphrase",)

    def act(self, options: CatalogOptions, task_vars: TaskVars) -> dict[str, Any]:
        try:
            return self._build(options)
        except OSError as exc:
            raise SmsmseError("OPTION_INVALID", f"Cannot write {options['dest']}: {exc}.", path=options["dest"]) from None

    def _build(self, options: CatalogOptions) -> dict[str, Any]:
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
        previous = catalog_build.previous_sequence(existing, keys, options["catalog_state"])
        warnings = _ignored_sequence(options["dest"], existing, keys)
        warnings += [
            f"{w} Run chmod 600 {k['path']}." for k in options["signing_keys"] if (w := catalog_build.readable_by_others(k["path"]))
        ]
        sequence = _next_sequence(options["sequence"], previous)
        signed = catalog.signed_part(sets, sequence=sequence, expires=now + dt.timedelta(days=options["expires_days"]))
        renew = dt.timedelta(days=options["renew_before_days"])
        if (
            existing
            and options["sequence"] is None
            and existing["signed"].get("sequence") == previous
            and catalog_build.still_valid(existing, signed, keys, now=now, renew_before=renew)
        ):
            old = existing["signed"]
            return {
                "changed": False,
                "warnings": warnings,
                "dest": options["dest"],
                "sequence": old["sequence"],
                "expires": old["expires"],
                "versions": sorted(old["sets"]),
                "signed_by": sorted(catalog.keyid(k.public_key()) for k in keys),
            }
        document = catalog.sign(signed, keys)
        if not self._task.check_mode:
            catalog_build.write_atomically(options["dest"], document)
        before = sorted(existing["signed"].get("sets", {})) if existing and isinstance(existing["signed"].get("sets"), dict) else []
        return {
            "changed": True,
            "warnings": warnings,
            "dest": options["dest"],
            "sequence": sequence,
            "expires": signed["expires"],
            "versions": sorted(sets),
            "signed_by": sorted(s["keyid"] for s in document["signatures"]),
            "diff": {
                "before": "".join(f"{v}\n" for v in before) + (f"sequence: {previous}\n" if previous else ""),
                "after": "".join(f"{v}\n" for v in sorted(sets)) + f"sequence: {sequence}\n",
                "before_header": f"{options['dest']} (versions)",
                "after_header": f"{options['dest']} (versions)",
            },
        }
