"""Every public action plugin's argument spec: from its docs, and secrets never logged."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run import argspec

ROOT = Path(__file__).resolve().parents[2]
ACTIONS = sorted(p.stem for p in (ROOT / "plugins" / "action").glob("*.py"))
SECRET_WORDS = ("passphrase", "password", "secret", "token")


def _walk(spec: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    for name, option in spec.items():
        yield prefix + name, option
        yield from _walk(option.get("options", {}), prefix + name + ".")


@pytest.mark.parametrize("name", ACTIONS)
def test_spec_is_the_documentation(name: str) -> None:
    action = importlib.import_module(f"ansible_collections.mailsec.smsmse.plugins.action.{name}")
    options = argspec.documented_options(
        importlib.import_module(f"ansible_collections.mailsec.smsmse.plugins.modules.{name}").DOCUMENTATION
    )
    assert sorted(action.ActionModule.ARGUMENT_SPEC) == sorted(options)
    for path, option in _walk(action.ActionModule.ARGUMENT_SPEC):
        documented = options
        for part in path.split("."):
            documented = documented[part]
            documented = documented.get("suboptions", documented) if part != path.split(".")[-1] else documented
        assert option["type"] == documented.get("type", "str"), path
        assert option.get("default") == documented.get("default"), path
        assert option.get("required", False) == documented.get("required", False), path


@pytest.mark.parametrize("name", ACTIONS)
def test_secrets_are_no_log(name: str) -> None:
    action = importlib.import_module(f"ansible_collections.mailsec.smsmse.plugins.action.{name}")
    for path, option in _walk(action.ActionModule.ARGUMENT_SPEC):
        if any(word in path.rsplit(".", 1)[-1] for word in SECRET_WORDS):
            assert option.get("no_log") is True, f"{name}: {path} carries a secret and must be no_log"


def test_there_are_secret_options_to_check() -> None:
    from ansible_collections.mailsec.smsmse.plugins.action import defs_catalog, defs_catalog_key

    assert defs_catalog_key.ActionModule.ARGUMENT_SPEC["passphrase"]["no_log"] is True
    assert defs_catalog.ActionModule.ARGUMENT_SPEC["signing_keys"]["options"]["passphrase"]["no_log"] is True


def test_an_option_documented_as_no_mapping_is_refused_naming_it() -> None:
    documentation = "options:\n  stores:\n    type: dict\n    suboptions:\n      csapi: a path\n"
    with pytest.raises(TypeError, match=r"`csapi` is a str, not a mapping"):
        argspec.from_documentation(documentation)
    nested = argspec.from_documentation("options:\n  stores:\n    type: dict\n    suboptions:\n      csapi:\n        type: path\n")
    assert nested == {"stores": {"type": "dict", "options": {"csapi": {"type": "path"}}}}
