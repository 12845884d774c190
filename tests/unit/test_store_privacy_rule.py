"""The store privacy rule is the controller's: it is sent with every Windows request, from the option or the default."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest

from ansible_collections.mailsec.smsmse.plugins.action import defs_health_host as health_host
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import change, steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import privacy
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import AgentFailed, SmsmseError
from ansible_collections.mailsec.smsmse.tests.unit.test_action_defs_facts import make_action

ROOT = Path(__file__).resolve().parents[2]
SERVICE = "S-1-5-21-1004336348-1177238915-682003330-1105"
OTHER = "S-1-5-21-1004336348-1177238915-682003330-1106"


def test_without_an_option_the_installers_rule_is_sent() -> None:
    assert privacy.rule(None) == {
        "writers": ["S-1-5-18", "S-1-5-32-544", "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"],
        "creators": [],
        "owners": ["S-1-5-18", "S-1-5-32-544", "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"],
        "owner_admins": True,
    }


def test_the_engine_falls_back_to_the_same_accounts_as_the_controller() -> None:
    """An older controller sends no rule: the agent's own default must be the controller's, account for account."""
    source = (ROOT / "plugins" / "module_utils" / "StorePolicy.cs").read_text()
    constants = dict(re.findall(r'public const string (\w+) = "(S-1-[0-9-]+)";', source))
    named = re.search(r"TrustedSids = \{ ([\w, ]+) \};", source)
    assert named is not None
    assert [constants[name.strip()] for name in named.group(1).split(",")] == list(privacy.INSTALLER_ACCOUNTS)


def test_accounts_given_are_added_to_the_installers_and_writers_may_own() -> None:
    """A service account is added: SYSTEM, Administrators and TrustedInstaller (which owns C:\\ and Program Files) stay."""
    found = privacy.rule({"writers": [SERVICE], "owner_admins": False})
    assert found["writers"] == found["owners"] == [*privacy.INSTALLER_ACCOUNTS, SERVICE]
    assert found["owner_admins"] is False and found["creators"] == []
    owners = privacy.rule({"owners": [OTHER]})
    assert owners["writers"] == list(privacy.INSTALLER_ACCOUNTS) and owners["owners"] == [*privacy.INSTALLER_ACCOUNTS, OTHER]


def test_replace_defaults_sends_only_the_accounts_given() -> None:
    found = privacy.rule({"writers": [privacy.LOCAL_SYSTEM, SERVICE], "owners": [privacy.ADMINISTRATORS], "replace_defaults": True})
    assert found["writers"] == [privacy.LOCAL_SYSTEM, SERVICE]
    assert found["owners"] == [privacy.LOCAL_SYSTEM, SERVICE, privacy.ADMINISTRATORS]


def test_sids_are_sent_in_their_canonical_form() -> None:
    """Windows compares SIDs by value: S-1-5-018 or icacls' *S-1-... must reach the agent as S-1-5-18."""
    found = privacy.rule({"creators": ["*S-1-5-21-1-2-3-01105", " S-1-5-018 "]})
    assert found["creators"] == ["S-1-5-21-1-2-3-1105", "S-1-5-18"]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"writers": ["CONTOSO\\svc-smsmse"]}, "`store_privacy.writers` holds 'CONTOSO\\\\svc-smsmse', which is not a SID"),
        ({"owners": ["S-1-5-18; S-1-1-0"]}, "`store_privacy.owners` holds 'S-1-5-18; S-1-1-0', which is not a SID"),
        ({"owners": ["S-1-5-21-" + "9" * 200]}, "which is not a SID"),
        ({"owners": ["S-1-5-21-4294967296"]}, "which is not a SID"),
        ({"creators": [f"S-1-5-21-1-2-3-{n}" for n in range(1000, 1033)]}, "`store_privacy.creators` comes to 33 accounts: at most 32."),
        ({"creators": ["S-1-5-32-545"]}, "`store_privacy.creators` names S-1-5-32-545 (Users): an account that stands for everyone"),
        ({"writers": ["S-1-1-0"]}, "`store_privacy.writers` names S-1-1-0 (Everyone)"),
        ({"owners": ["S-1-5-11"]}, "names S-1-5-11 (Authenticated Users)"),
        ({"writers": ["S-1-5-21-1004336348-1177238915-682003330-513"]}, "(Domain Users)"),
        # everyone of an organization, of a logon type, every service, every local account: no rule either
        ({"writers": ["S-1-5-15"]}, "names S-1-5-15 (This Organization)"),
        ({"writers": ["S-1-2-0"]}, "names S-1-2-0 (LOCAL)"),
        ({"writers": ["S-1-5-6"]}, "names S-1-5-6 (SERVICE)"),
        ({"writers": ["S-1-5-14"]}, "names S-1-5-14 (REMOTE INTERACTIVE LOGON)"),
        ({"writers": ["S-1-5-113"]}, "names S-1-5-113 (Local account)"),
        ({"owners": ["S-1-5-32-555"]}, "names S-1-5-32-555 (Remote Desktop Users)"),
        ({"owners": ["S-1-5-32-554"]}, "names S-1-5-32-554 (Pre-Windows 2000 Compatible Access)"),
        ({"creators": ["S-1-15-2-2"]}, "names S-1-15-2-2 (ALL RESTRICTED APPLICATION PACKAGES)"),
        ({"writers": ["S-1-5-21-1004336348-1177238915-682003330-501"]}, "(Guest)"),
        ({"writers": [], "replace_defaults": True}, "names no writers: no account could change a store"),
    ],
)
def test_a_bad_rule_names_the_part_and_the_fix(given: dict[str, Any], message: str) -> None:
    with pytest.raises(SmsmseError) as raised:
        privacy.for_request(True, given)
    assert raised.value.code == "OPTION_INVALID"
    assert message in str(raised.value)
    if "not a SID" in message:
        assert "whoami /user" in str(raised.value)


def test_hosts_that_are_not_windows_are_sent_no_rule() -> None:
    assert privacy.for_request(False, {"writers": ["not checked: nothing is sent"]}) is None


def probe_request_of(windows: bool, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
    """The probe request a defs_facts task sends (the agent's reply does not matter here)."""
    sent: list[dict[str, Any]] = []
    plugin = make_action(args, windows=windows)

    def execute_module(module_name: str, module_args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        sent.append(module_args["request"] if "request" in module_args else json.loads(module_args["request_json"]))
        return {"failed": True, "msg": "not needed"}

    plugin._execute_module = execute_module
    plugin._templar.template = lambda value: value  # the host variable as the inventory holds it
    plugin.run(task_vars=task_vars)
    assert len(sent) == 1
    return sent[0]


def test_a_windows_probe_carries_the_host_variables_rule() -> None:
    request = probe_request_of(True, {}, {"smsmse_defs_store_privacy": {"writers": [SERVICE]}})
    assert request["privacy"] == privacy.rule({"writers": [SERVICE]})
    assert SERVICE in request["privacy"]["writers"] and privacy.TRUSTED_INSTALLER in request["privacy"]["owners"]
    assert contract.problems("probe", "request", request) == []
    assert probe_request_of(True, {}, {})["privacy"] == privacy.default()


def test_the_tasks_option_wins_over_the_host_variable() -> None:
    request = probe_request_of(True, {"store_privacy": {"owner_admins": False}}, {"smsmse_defs_store_privacy": {"writers": [SERVICE]}})
    assert request["privacy"] == {**privacy.default(), "owner_admins": False}


def test_the_option_is_converted_as_documented_before_the_rule_is_built() -> None:
    """Ansible's conversions apply (a 'no' is false): the rule is built from the validated option, not the raw one."""
    request = probe_request_of(True, {"store_privacy": {"owner_admins": "no"}}, {})
    assert request["privacy"]["owner_admins"] is False


def test_a_posix_probe_carries_no_rule() -> None:
    request = probe_request_of(False, {"stores": {"csapi": "/srv/csapi"}}, {"smsmse_defs_store_privacy": {"writers": [SERVICE]}})
    assert request["privacy"] is None


def windows_task(store_privacy: dict[str, Any] | None) -> tuple[Any, list[dict[str, Any]]]:
    """A Windows task whose validated options hold ``store_privacy``; what it sends the agent is recorded."""
    sent: list[dict[str, Any]] = []
    task = MagicMock()
    task._connection._shell._IS_WINDOWS = True
    task.validated_options = {"store_privacy": store_privacy}

    def execute_module(module_name: str, module_args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        sent.append(module_args["request"] if "request" in module_args else json.loads(module_args["request_json"]))
        return {"failed": True, "msg": "not needed"}

    task._execute_module = execute_module
    return task, sent


def lock_step() -> list[steps.Step]:
    return [steps.step("lock", "C:\\defs", stale_seconds=900)]


def test_the_change_modules_apply_carries_the_rule() -> None:
    """defs_promote, defs_rollback and defs_import carry out their plans through change.apply_read."""
    task, sent = windows_task({"creators": [SERVICE]})
    change.apply_read(task, {}, lock_step(), None)
    assert sent[0]["privacy"] == privacy.rule({"creators": [SERVICE]})
    assert contract.problems("apply", "request", sent[0]) == []


def test_the_roles_apply_carries_the_rule() -> None:
    task, sent = windows_task({"writers": [SERVICE]})
    with pytest.raises(AgentFailed):  # the recorded agent answers nothing
        health_host.ActionModule._apply(task, {}, lock_step(), None)
    assert sent[0]["privacy"]["writers"] == [*privacy.INSTALLER_ACCOUNTS, SERVICE]
