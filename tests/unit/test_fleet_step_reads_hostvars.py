"""The fleet step reads each host's registered result from Ansible's hostvars untemplated, and nothing else as one."""

from __future__ import annotations

from ansible_collections.mailsec.smsmse.plugins.action import defs_health_fleet


class HostVars:
    """What Ansible's ``hostvars`` offers the fleet step: ``raw_get``, KeyError for a host it does not know."""

    def __init__(self, hosts: dict[str, object]) -> None:
        self.hosts = hosts
        self.asked: list[str] = []

    def raw_get(self, host_name: str) -> object:
        self.asked.append(host_name)
        return self.hosts[host_name]


def test_a_hosts_variables_are_read_untemplated_with_raw_get() -> None:
    registered = {"verified": {"assessment": {"format": 1}, "msg": "{{ not templated }}"}}
    hostvars = HostVars({"h1": registered})
    assert defs_health_fleet._host_vars(hostvars, "h1") is registered
    assert hostvars.asked == ["h1"]


def test_an_unknown_host_or_anything_but_hostvars_reads_as_no_variables() -> None:
    assert defs_health_fleet._host_vars(HostVars({}), "gone") == {}
    assert defs_health_fleet._host_vars(HostVars({"h1": "not a mapping"}), "h1") == {}
    assert defs_health_fleet._host_vars({"h1": {"verified": {}}}, "h1") == {}  # a plain dict has no raw_get
    assert defs_health_fleet._host_vars(None, "h1") == {}
