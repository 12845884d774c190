"""The step groups the plan builders share: installing a set under its name, replacing the pointer, pointing a store at
a set it holds and moving sets out of it into quarantine (see docs/changes.md)."""

from __future__ import annotations

import ntpath
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change.plan_types import ExpectedFile
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.snapshot import DEFINFO
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.store_view import Context, StoreView
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError


def install_steps(
    dst: StoreView,
    copy: Callable[[str], steps.Step],
    chosen: str,
    *,
    installed_good: bool,
    present: bool,
    pointer: bytes | None,
    ctx: Context,
) -> list[steps.Step]:
    """Copy the set in (``copy``: its step into a staging folder, unless a good copy is there), swap or rename it into
    place, then switch the pointer.

    A bad copy of ``chosen`` is swapped with the good one, never removed first: the
    product may point at that name at any moment (its own copy job), and the name
    then always holds a whole folder. When the pointer already names it, the swap
    is the commit point.
    """
    if installed_good:
        matches = steps.step("matches", dst.path, name=chosen, manifest=dst.manifest(chosen))
        return [matches, *pointer_steps(dst, pointer, ctx, commit=True)]
    staging = f"{ctx.staging_prefix}{chosen}-{ctx.token()}"
    body = [copy(staging)]  # stage (from a store) or fetch (from a distribution point) into the staging folder
    if not present:
        names: dict[str, Any] = {  # `from` is a keyword: steps.step takes it by **
            "from": staging,
            "to": chosen,
        }
        return [*body, steps.step("rename", dst.path, **names), *pointer_steps(dst, pointer, ctx, commit=True)]
    active = dst.active == chosen
    # compare-and-swap: b must still hold the bad copy this plan read (a second run finds the good one there: conflict)
    expect_b = expected_copy(dst, chosen)
    body.append(steps.step("exchange", dst.path, commit=active, a=staging, b=chosen, expect_b=expect_b))
    body += pointer_steps(dst, pointer, ctx, commit=not active)
    body.append(steps.step("retire", dst.path, required=False, name=staging))  # the bad copy, now in the staging folder
    return body


def expected_copy(view_: StoreView, version: str) -> dict[str, ExpectedFile] | None:
    """What the folder of ``version`` held when read (size and digest per file, a digest None where it was unreadable),
    for the exchange's compare-and-swap; None when it was not listed whole (then only its presence is checked)."""
    folder = view_.store.set(version)
    if folder is None or folder.truncated or folder.link or folder.error is not None or folder.escaped:
        return None
    if not folder.files or any(f.escaped or f.link for f in folder.files):
        return None
    return {f.path: {"size": f.size, "sha256": f.sha256} for f in folder.files}


def pointer_steps(
    view_: StoreView, content: bytes | None, ctx: Context, *, commit: bool, quarantine_dir: str | None = None
) -> list[steps.Step]:
    """Replace ``definfo.dat`` with ``content`` (none when None), expecting what the probe's lstat saw there.

    A link is replaced itself, never written through. A folder named definfo.dat is
    moved out of the store first (quarantined, never deleted: it is not ours), so
    that the file can take its name.
    """
    if content is None:
        return []
    found = []
    kind = view_.definfo_kind
    if kind == "dir":
        found.append(
            steps.step(
                "quarantine",
                view_.path,
                name=DEFINFO,
                dest_dir=quarantine_dir or default_quarantine(view_),
                dest_name=f"{quarantine_base(view_)}-{DEFINFO}-{ctx.token()}",
            )
        )
        kind = "absent"
    found.append(steps.write_pointer(view_.path, content, view_.definfo_sha256 if kind == "file" else None, kind, commit=commit))
    return found


def repoint(
    view_: StoreView,
    target: str,
    content: bytes | None,
    *,
    quarantined: Sequence[str],
    destination: str,
    events: Sequence[Mapping[str, object]],
    ctx: Context,
    usage_content: bytes | None = None,
) -> list[steps.Step]:
    """Every step of pointing a store at a set it holds and moving sets out of it (rollback and source repair alike).

    The set pointed at is checked once more (``matches``); the pointer is written
    when ``content`` is given (the commit point), then ``usage.dat`` when
    ``usage_content`` is given (the commit point when the pointer stays), else the
    first quarantine is.
    """
    body = [steps.step("matches", view_.path, name=target, manifest=view_.manifest(target))]
    body += pointer_steps(view_, content, ctx, commit=True, quarantine_dir=destination)
    body += view_.usage_steps(usage_content, commit=content is None)  # before a set leaves: usage.dat never names a missing set
    body += _quarantine_steps(view_, quarantined, destination, commit=content is None and usage_content is None, ctx=ctx)
    group = view_.group(ctx, events)
    return [*group.opening(pointer_writable=content is not None), *body, *group.closing()]


def quarantine_base(view_: StoreView) -> str:
    """The start of a quarantined folder's name: the store folder's own name, safe as one path component."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", view_.path.rstrip("\\/").replace("\\", "/").rsplit("/", 1)[-1]) or view_.name


def _quarantine_steps(view_: StoreView, names: Sequence[str], destination: str, *, commit: bool, ctx: Context) -> list[steps.Step]:
    base = quarantine_base(view_)
    found = []
    for index, name in enumerate(names):
        found.append(
            steps.step(
                "quarantine",
                view_.path,
                commit=commit and index == 0,
                name=name,
                dest_dir=destination,
                dest_name=f"{base}-{name}-{ctx.token()}",
            )
        )
    return found


def check_quarantine_dir(quarantine_dir: str | None, store: StoreView) -> None:
    """OPTION_INVALID for a quarantine folder that is not a full path on the host (it would land in the agent's working folder)."""
    if quarantine_dir is None:
        return
    full = ntpath.isabs(quarantine_dir) and bool(ntpath.splitdrive(quarantine_dir)[0]) if store.windows else posixpath.isabs(quarantine_dir)
    if not full:
        example = "D:\\Quarantine\\smsmse" if store.windows else "/var/lib/mailsec-smsmse/quarantine"
        raise SmsmseError("OPTION_INVALID", f"`quarantine_dir` is '{quarantine_dir}': give a full path on the host, for example {example}.")


def default_quarantine(store: StoreView) -> str:
    """Beside the store, on the same volume (so a set moves there by rename): ``<parent>/mailsec-smsmse-quarantine``."""
    separator = "\\" if store.windows else "/"
    parent = store.path.rstrip("\\/").rsplit(separator, 1)[0]
    return f"{parent}{separator}mailsec-smsmse-quarantine"
