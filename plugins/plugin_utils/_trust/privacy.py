"""The store privacy rule the controller sends every Windows agent call: who may change a store, who may own it.

The agent applies the rule it is sent (``privacy`` in ``schemas/agent/probe.request.json`` and
``apply.request.json``; docs/windows.md says what it checks). The base is how the product's installer secures its
folders: SYSTEM, Administrators and TrustedInstaller. The ``store_privacy`` option (or the host variable
``smsmse_defs_store_privacy``) adds accounts to it; only ``replace_defaults`` drops the installer's accounts, since
Windows' own folders above a store (``C:\\``, ``Program Files``) are owned by TrustedInstaller and need it.
Accounts that stand for everyone or for ordinary users are refused in every part: trusting them is no rule at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TypedDict

from ansible.plugins.action import ActionBase

from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

#: the accounts Windows and the installer give a program's folders, by SID (names differ by language, SIDs do not)
LOCAL_SYSTEM = "S-1-5-18"
ADMINISTRATORS = "S-1-5-32-544"
TRUSTED_INSTALLER = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"
INSTALLER_ACCOUNTS = (LOCAL_SYSTEM, ADMINISTRATORS, TRUSTED_INSTALLER)
#: accounts no part of the rule may name: everyone, ordinary or anonymous users, whoever logs on in some way, every
#: service or local account, the owner placeholders
BROAD = {
    "S-1-1-0": "Everyone",
    "S-1-2-0": "LOCAL",
    "S-1-2-1": "CONSOLE LOGON",
    "S-1-3-0": "CREATOR OWNER",
    "S-1-3-1": "CREATOR GROUP",
    "S-1-3-4": "OWNER RIGHTS",
    "S-1-5-1": "DIALUP",
    "S-1-5-2": "NETWORK",
    "S-1-5-3": "BATCH",
    "S-1-5-4": "INTERACTIVE",
    "S-1-5-6": "SERVICE",
    "S-1-5-7": "ANONYMOUS LOGON",
    "S-1-5-11": "Authenticated Users",
    "S-1-5-13": "TERMINAL SERVER USER",
    "S-1-5-14": "REMOTE INTERACTIVE LOGON",
    "S-1-5-15": "This Organization",
    "S-1-5-33": "WRITE RESTRICTED",
    "S-1-5-113": "Local account",
    "S-1-5-1000": "Other Organization",
    "S-1-5-32-545": "Users",
    "S-1-5-32-546": "Guests",
    "S-1-5-32-554": "Pre-Windows 2000 Compatible Access",
    "S-1-5-32-555": "Remote Desktop Users",
    "S-1-15-2-1": "ALL APPLICATION PACKAGES",
    "S-1-15-2-2": "ALL RESTRICTED APPLICATION PACKAGES",
}
#: relative IDs of a domain's (or the computer's) broad accounts and groups (S-1-5-21-<domain>-<rid>)
BROAD_DOMAIN_RIDS = {"501": "Guest", "513": "Domain Users", "514": "Domain Guests", "515": "Domain Computers"}
#: the bounds of the contract (``maxItems``, ``maxLength``) and of a SID (at most 15 sub-authorities of 32 bits)
MAX_ACCOUNTS = 32
MAX_SID_LENGTH = 184
_SID = re.compile(r"\*?S-1-([0-9]{1,15})((?:-[0-9]{1,10}){1,15})")
_FIND_SID = (
    "give each account as its SID (S-1-5-...), which `whoami /user`, `sc showsid <service>` or "
    "(New-Object System.Security.Principal.NTAccount('DOMAIN\\name'))"
    ".Translate([System.Security.Principal.SecurityIdentifier]).Value prints"
)


class Rule(TypedDict):
    """The rule as a request carries it."""

    writers: list[str]
    creators: list[str]
    owners: list[str]
    owner_admins: bool


def default() -> Rule:
    """The installer's rule: SYSTEM, Administrators and TrustedInstaller may change and own a store; no account may only
    create entries in it; any member of the local Administrators group may own it (the admin who installed)."""
    return {"writers": list(INSTALLER_ACCOUNTS), "creators": [], "owners": list(INSTALLER_ACCOUNTS), "owner_admins": True}


def rule(given: Mapping[str, object] | None) -> Rule:
    """The rule to send for the ``store_privacy`` option ``given`` (validated by its documentation).

    ``writers`` and ``owners`` are added to the installer's accounts (``replace_defaults``: instead of them); ``owners``
    also takes the ``writers`` given. Raises ``OPTION_INVALID`` naming the part and the fix for an account that is not
    a SID, one that stands for everyone, too many accounts, or a rule that lets no account change a store.
    """
    given = given or {}
    base = [] if given.get("replace_defaults") else list(INSTALLER_ACCOUNTS)
    writers = _sids("writers", _accounts(given, "writers"))
    creators = _sids("creators", _accounts(given, "creators"))
    owners = _sids("owners", _accounts(given, "owners"))
    found: Rule = {
        "writers": _union("writers", base, writers),
        "creators": _union("creators", [], creators),
        "owners": _union("owners", base, writers, owners),
        "owner_admins": True if given.get("owner_admins") is None else bool(given["owner_admins"]),
    }
    if not found["writers"]:
        raise SmsmseError(
            "OPTION_INVALID",
            "`store_privacy` with `replace_defaults` names no writers: no account could change a store, so every store "
            "would be refused. Name the accounts that may change the stores in `store_privacy.writers`.",
        )
    return found


def _accounts(given: Mapping[str, object], part: str) -> list[str]:
    """The accounts of one part, as the option's documentation has validated them (a list of text, or nothing)."""
    value = given.get(part)
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else []


def _sids(part: str, accounts: Sequence[str]) -> list[str]:
    found = []
    for account in accounts:
        text = str(account).strip()
        match = _SID.fullmatch(text) if len(text) <= MAX_SID_LENGTH else None
        if match is None or any(int(n) >= 1 << 32 for n in match.group(2)[1:].split("-")) or int(match.group(1)) >= 1 << 48:
            raise SmsmseError("OPTION_INVALID", f"`store_privacy.{part}` holds {account!r}, which is not a SID: {_FIND_SID}.")
        sid = "S-1-" + "-".join(str(int(n)) for n in [match.group(1), *match.group(2)[1:].split("-")])  # S-1-5-018: S-1-5-18
        broad = BROAD.get(sid) or (BROAD_DOMAIN_RIDS.get(sid.rsplit("-", 1)[1]) if sid.startswith("S-1-5-21-") else None)
        if broad:
            raise SmsmseError(
                "OPTION_INVALID",
                f"`store_privacy.{part}` names {sid} ({broad}): an account that stands for everyone or for ordinary users "
                "could add a definition set the scanner loads, so it may never change or own a store. Name the service "
                "account itself, or a group only administrators belong to.",
            )
        found.append(sid)
    return found


def _union(part: str, *lists: Sequence[str]) -> list[str]:
    found: list[str] = []
    for sid in (s for accounts in lists for s in accounts):
        if sid not in found:
            found.append(sid)
    if len(found) > MAX_ACCOUNTS:
        raise SmsmseError("OPTION_INVALID", f"`store_privacy.{part}` comes to {len(found)} accounts: at most {MAX_ACCOUNTS}.")
    return found


def for_request(is_windows: bool, given: Mapping[str, object] | None) -> Rule | None:
    """What a request carries: the rule on Windows, nothing on other hosts (they have no ACLs to judge)."""
    return rule(given) if is_windows else None


def of_task(action: ActionBase) -> Rule | None:
    """The rule a task's requests carry: its validated ``store_privacy`` option (the host variable filled in)."""
    windows = bool(getattr(action._connection._shell, "_IS_WINDOWS", False))
    options: Mapping[str, object] = getattr(action, "validated_options", None) or {}
    given = options.get("store_privacy")
    return for_request(windows, given if isinstance(given, Mapping) else None)
