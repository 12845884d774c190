"""The store privacy rule is the controller's: it is sent with every Windows request, from the option or the default."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import contract, privacy, steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError
from ansible_collections.mailsec.smsmse.tests.unit.test_action_defs_facts import make_action

ROOT = Path(__file__).resolve().parents[2]
SERVICE = "S-1-5-21-1004336348-1177238915-682003330-1105"


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


def test_a_list_given_replaces_the_default_and_owners_follow_writers() -> None:
    found = privacy.rule({"writers": [privacy.LOCAL_SYSTEM, privacy.ADMINISTRATORS, SERVICE], "owner_admins": False})
    assert found["writers"] == found["owners"] == [privacy.LOCAL_SYSTEM, privacy.ADMINISTRATORS, SERVICE]
    assert found["owner_admins"] is False and found["creators"] == []
    apart = privacy.rule({"writers": [SERVICE], "owners": [privacy.ADMINISTRATORS]})
    assert apart["owners"] == [privacy.ADMINISTRATORS]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"writers": ["CONTOSO\\svc-smsmse"]}, "`store_privacy.writers` holds 'CONTOSO\\\\svc-smsmse', which is not a SID"),
        ({"owners": ["S-1-5-18; S-1-1-0"]}, "`store_privacy.owners` holds 'S-1-5-18; S-1-1-0', which is not a SID"),
        ({"creators": [SERVICE] * 33}, "`store_privacy.creators` names 33 accounts: at most 32."),
        ({"writer": [SERVICE]}, "`store_privacy` has writer: it takes writers, creators, owners and owner_admins."),
        ({"writers": SERVICE}, "`store_privacy.writers` must be a list of SIDs."),
    ],
)
def test_a_bad_rule_names_the_part_and_the_fix(given: dict[str, Any], message: str) -> None:
    with pytest.raises(SmsmseError) as raised:
        privacy.for_request(True, given)
    assert raised.value.code == "OPTION_INVALID"
    assert message in str(raised.value)
    if "not a SID" in message:
        assert "Translate([System.Security.Principal.SecurityIdentifier])" in str(raised.value)


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
    rule = {"writers": [privacy.LOCAL_SYSTEM, privacy.ADMINISTRATORS, SERVICE]}
    request = probe_request_of(True, {}, {"smsmse_defs_store_privacy": rule})
    assert request["privacy"] == {"writers": rule["writers"], "creators": [], "owners": rule["writers"], "owner_admins": True}
    assert contract.problems("probe", "request", request) == []
    assert probe_request_of(True, {}, {})["privacy"] == privacy.default()


def test_the_tasks_option_wins_over_the_host_variable() -> None:
    request = probe_request_of(True, {"store_privacy": {"owner_admins": False}}, {"smsmse_defs_store_privacy": {"writers": [SERVICE]}})
    assert request["privacy"] == {**privacy.default(), "owner_admins": False}


def test_a_posix_probe_carries_no_rule() -> None:
    request = probe_request_of(False, {"stores": {"csapi": "/srv/csapi"}}, {"smsmse_defs_store_privacy": {"writers": [SERVICE]}})
    assert request["privacy"] is None


def test_an_apply_request_carries_the_rule_within_the_contract() -> None:
    step = {"op": "lock", "store": "C:\\defs", "args": {"stale_seconds": 900}, "required": True, "always": False, "commit": False}
    request = steps.request([step], wire=contract.wire(), cache_dir=None, store_privacy=privacy.rule({"creators": [SERVICE]}))
    assert request["privacy"]["creators"] == [SERVICE]
    assert contract.problems("apply", "request", request) == []
