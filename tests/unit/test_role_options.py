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
