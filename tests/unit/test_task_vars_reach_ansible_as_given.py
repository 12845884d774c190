"""The task's variables go back to Ansible's own calls as the dict Ansible gave the plugin, never a stale copy."""

from __future__ import annotations

from types import MappingProxyType

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.action_base import for_ansible


def test_the_dict_ansible_gave_is_handed_back_itself() -> None:
    task_vars: dict[str, object] = {"inventory_hostname": "h1", "ansible_connection": "local"}
    assert for_ansible(task_vars) is task_vars


def test_another_mapping_is_handed_to_ansible_as_a_dict_of_the_same_variables() -> None:
    given = MappingProxyType({"inventory_hostname": "h1"})
    handed = for_ansible(given)
    assert isinstance(handed, dict)
    assert handed == {"inventory_hostname": "h1"}
