"""What a plan shows: the ``--diff`` of a store (``definfo.dat``, ``usage.dat``, its sets), the words and result keys a
change of ``usage.dat`` adds, why a set is not good, and what proved the active set."""

from __future__ import annotations

from collections.abc import Sequence

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change.plan_types import PlanExtra
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import usage
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.definfo import DefinfoError, decode
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.snapshot import DEFINFO, USAGE
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.store_view import StoreView
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import verify


def diff(
    store: StoreView, after_definfo: bytes | None, added: Sequence[str], removed: Sequence[str], after_usage: bytes | None = None
) -> list[dict[str, str]]:
    """What ``--diff`` shows: ``definfo.dat`` (and ``usage.dat``) as it is and as it will be (when it changes), and the store's sets."""
    shown = []
    current = store.definfo_bytes()
    if after_definfo is not None and after_definfo != current:
        where = store.store.folder(DEFINFO)
        shown.append(
            {
                "before_header": where,
                "after_header": where,
                "before": _definfo_text(current or b""),
                "after": _definfo_text(after_definfo),
            }
        )
    if after_usage is not None and store.store.usage is not None:
        where = store.store.folder(USAGE)
        before = _definfo_text(store.store.usage.content or b"")
        shown.append({"before_header": where, "after_header": where, "before": before, "after": _definfo_text(after_usage)})
    if added or removed:
        before_sets = sorted(store.sets)
        after_sets = sorted((set(before_sets) | set(added)) - set(removed))
        shown.append(
            {
                "before_header": f"{store.path} (sets of {store.name})",
                "after_header": f"{store.path} (sets of {store.name})",
                "before": "".join(f"{v}\n" for v in before_sets),
                "after": "".join(f"{v}\n" for v in after_sets),
            }
        )
    return shown


def _definfo_text(data: bytes) -> str:
    """definfo.dat as text for a diff, in the file's own encoding (UTF-16 files exist on Windows); damaged bytes replaced."""
    try:
        text = decode(data)[0]
    except DefinfoError:
        text = data.decode("utf-8", "replace")
    return text.replace("\r\n", "\n")


def usage_message(content: bytes | None, target: str) -> str:
    return f"; usage.dat: the product codes of missing or bad sets moved under {target}" if content is not None else ""


def usage_extra(view_: StoreView, content: bytes | None) -> PlanExtra:
    """The plan's ``usage`` (store -> set -> product codes once done), for the report's prediction of the checks."""
    return {"usage": {view_.name: usage.parse(content).sets()}} if content is not None else {}


def reasons(record: verify.SetVerdict) -> str:
    return "; ".join(e["message"] for e in record["errors"][:3]) or str(record["status"])


def active_proof(view_: StoreView) -> str:
    """What proved the active set's verdict (``structure`` when the store points at no set)."""
    record = view_.sets.get(view_.active) if view_.active else None
    return str(record.get("proof") or verify.STRUCTURE) if record else verify.STRUCTURE
