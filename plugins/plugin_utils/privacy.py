"""The store privacy rule the controller sends every Windows agent call: who may change a store, who may own it.

The agent applies the rule it is sent (``privacy`` in ``schemas/agent/probe.request.json`` and
``apply.request.json``; docs/windows.md says what each part means). The default is how the product's installer
secures its folders. An option (``store_privacy``, or the host variable ``smsmse_defs_store_privacy``) replaces
the parts it gives: a service account that writes the stores is added to ``writers``, for example.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

#: the accounts Windows and the installer give a program's folders, by SID (names differ by language, SIDs do not)
LOCAL_SYSTEM = "S-1-5-18"
ADMINISTRATORS = "S-1-5-32-544"
TRUSTED_INSTALLER = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"
INSTALLER_ACCOUNTS = (LOCAL_SYSTEM, ADMINISTRATORS, TRUSTED_INSTALLER)
#: the bound of each list (the contract's ``maxItems``)
MAX_ACCOUNTS = 32

_SID = re.compile(r"S-1-[0-9]+(-[0-9]+){1,15}")
_LISTS = ("writers", "creators", "owners")
_FIND_SID = (
    "give each account as its SID (S-1-5-...); PowerShell prints one with "
    "(New-Object System.Security.Principal.NTAccount('DOMAIN\\name')).Translate([System.Security.Principal.SecurityIdentifier]).Value"
)


class Rule(TypedDict):
    """The rule as a request carries it."""

    writers: list[str]
    creators: list[str]
    owners: list[str]
    owner_admins: bool


class Given(TypedDict, total=False):
    """The ``store_privacy`` option: each part optional."""

    writers: Sequence[str] | None
    creators: Sequence[str] | None
    owners: Sequence[str] | None
    owner_admins: bool | None


def default() -> Rule:
    """The installer's rule: SYSTEM, Administrators and TrustedInstaller may change and own a store; nobody may only
    create entries in it; any member of the local Administrators group may own it (the admin who installed)."""
    return {"writers": list(INSTALLER_ACCOUNTS), "creators": [], "owners": list(INSTALLER_ACCOUNTS), "owner_admins": True}


def rule(given: Given | None) -> Rule:
    """The rule to send: the default with the parts ``given`` replaces. ``owners`` not given follows ``writers``.

    Raises ``OPTION_INVALID`` naming the part and the fix when an account is not a SID or a list is too long.
    """
    given = given or {}
    base = default()
    writers, creators, owners = given.get("writers"), given.get("creators"), given.get("owners")
    found: Rule = {
        "writers": base["writers"] if writers is None else _sids("writers", writers),
        "creators": base["creators"] if creators is None else _sids("creators", creators),
        "owners": base["owners"] if owners is None else _sids("owners", owners),
        "owner_admins": base["owner_admins"] if given.get("owner_admins") is None else bool(given.get("owner_admins")),
    }
    if writers is not None and owners is None:
        found["owners"] = list(found["writers"])
    return found


def _sids(part: str, accounts: Sequence[str]) -> list[str]:
    if len(accounts) > MAX_ACCOUNTS:
        raise SmsmseError("OPTION_INVALID", f"`store_privacy.{part}` names {len(accounts)} accounts: at most {MAX_ACCOUNTS}.")
    found: list[str] = []
    for account in accounts:
        text = str(account).strip()
        if not _SID.fullmatch(text):
            raise SmsmseError("OPTION_INVALID", f"`store_privacy.{part}` holds {account!r}, which is not a SID: {_FIND_SID}.")
        if text.upper() not in (f.upper() for f in found):
            found.append(text)
    return found


def for_request(is_windows: bool, given: Mapping[str, object] | None) -> Rule | None:
    """What a request carries: the rule on Windows, nothing on other hosts (they have no ACLs to judge)."""
    if not is_windows:
        return None
    return rule(_given(given))


def _list(option: Mapping[str, object], part: str) -> list[str] | None:
    value = option.get(part)
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise SmsmseError("OPTION_INVALID", f"`store_privacy.{part}` must be a list of SIDs.")
    return [str(v) for v in value]


def of_task(action: Any) -> Rule | None:
    """The rule a task's requests carry: its ``store_privacy`` option (the host variable filled in) on Windows."""
    windows = bool(getattr(action._connection._shell, "_IS_WINDOWS", False))
    return for_request(windows, action._task.args.get("store_privacy"))


def _given(option: Mapping[str, object] | None) -> Given:
    if option is None:
        return {}
    if not isinstance(option, Mapping):
        raise SmsmseError("OPTION_INVALID", "`store_privacy` must be a mapping of writers, creators, owners and owner_admins.")
    unknown = sorted(set(option) - {*_LISTS, "owner_admins"})
    if unknown:
        takes = "writers, creators, owners and owner_admins"
        raise SmsmseError("OPTION_INVALID", f"`store_privacy` has {', '.join(unknown)}: it takes {takes}.")
    given: Given = {"writers": _list(option, "writers"), "creators": _list(option, "creators"), "owners": _list(option, "owners")}
    admins = option.get("owner_admins")
    if admins is not None:
        if not isinstance(admins, bool):
            raise SmsmseError("OPTION_INVALID", "`store_privacy.owner_admins` must be true or false.")
        given["owner_admins"] = admins
    return given
