"""The defs_health role's options: every default is documented in meta/argument_specs.yml, with the same value."""

from __future__ import annotations

from pathlib import Path

import yaml

ROLE = Path(__file__).resolve().parents[2] / "roles" / "defs_health"


def test_every_default_is_documented_with_its_value() -> None:
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert sorted(defaults) == sorted(o for o in specs if o in defaults)
    for name, value in defaults.items():
        assert specs[name].get("default") == value, name
        assert specs[name]["description"], name


def test_the_nightly_options_are_in_the_readme() -> None:
    readme = (ROLE / "README.md").read_text()
    for name in (
        "defs_health_fail_on",
        "defs_health_fail_severities",
        "defs_health_history_runs",
        "defs_health_report_dir",
        "defs_health_print_table",
    ):
        assert f"`{name}`" in readme or f"{name}:" in readme, name
    assert "$XDG_DATA_HOME/mailsec-smsmse/defs-health" in readme and "~/.local/share/mailsec-smsmse/defs-health" in readme


def test_every_checked_range_is_stated_in_the_argument_spec() -> None:
    from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run import role_options

    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    for name, (low, high) in role_options.RANGES.items():
        assert f"From {low} to {high}." in specs[name]["description"], name


def test_the_defaults_pass_and_each_bad_value_names_its_role_variable(tmp_path: Path) -> None:
    import datetime as dt

    import pytest

    from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run import role_options
    from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

    now = dt.datetime.now(dt.timezone.utc)
    defaults = {**yaml.safe_load((ROLE / "defaults" / "main.yml").read_text()), "defs_health_report_dir": str(tmp_path / "reports")}
    role_options.check(defaults, now=now)
    assert not (tmp_path / "reports").exists()  # checked, not made
    for name, value, text in [
        ("defs_health_keep", 0, "`defs_health_keep` is 0: set it to a whole number from 1 to 1000."),
        ("defs_health_max_age_days", -1, "`defs_health_max_age_days` is -1"),
        ("defs_health_consensus_threshold", 0.4, "`defs_health_consensus_threshold` is 0.4"),
        ("defs_health_fail_severities", [], "`defs_health_fail_severities` is empty"),
        ("defs_health_catalog", str(tmp_path / "catalgo.json"), "`defs_health_catalog` is set but `defs_health_trusted_keys` is empty"),
        ("defs_health_report_dir", str(tmp_path / "file" / "reports"), "is not a folder"),
    ]:
        (tmp_path / "file").write_text("")
        with pytest.raises(SmsmseError) as raised:
            role_options.check({**defaults, name: value}, now=now)
        assert raised.value.code == "OPTION_INVALID" and text in str(raised.value), (name, str(raised.value))
    keyed = {**defaults, "defs_health_catalog": str(tmp_path / "catalgo.json"), "defs_health_trusted_keys": ["not a key"]}
    with pytest.raises(SmsmseError) as raised:
        role_options.check(keyed, now=now)
    assert "defs_health_" in str(raised.value), str(raised.value)


def test_trusted_keys_given_as_one_string_are_refused_naming_the_role_variable(tmp_path: Path) -> None:
    """The module may be called without the role's argument spec: one key text is not split into its characters."""
    import datetime as dt

    import pytest

    from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run import role_options
    from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

    defaults = {**yaml.safe_load((ROLE / "defaults" / "main.yml").read_text()), "defs_health_report_dir": str(tmp_path / "reports")}
    keyed = {**defaults, "defs_health_catalog": str(tmp_path / "catalog.json"), "defs_health_trusted_keys": "ab" * 32}
    with pytest.raises(SmsmseError) as raised:
        role_options.check(keyed, now=dt.datetime.now(dt.timezone.utc))
    assert raised.value.code == "OPTION_INVALID", str(raised.value)
    assert "`defs_health_trusted_keys` is a str: list the trusted public keys" in str(raised.value), str(raised.value)
