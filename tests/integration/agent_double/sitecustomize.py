"""A test double around the POSIX agent, for tests that must stop a change at an exact moment.

Put this folder on the agent's ``PYTHONPATH`` and set ``AGENT_DOUBLE_KILL_BEFORE`` to a step's
index (from 0) or op: when the agent's ``apply`` module is loaded, its ``run_step`` is wrapped so
that the process kills itself with SIGKILL right before that step. The agent itself has no such hook.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import signal
import sys
from types import ModuleType
from typing import Any

KILL_BEFORE = "AGENT_DOUBLE_KILL_BEFORE"
TARGET = "ansible_collections.mailsec.smsmse.plugins.module_utils.apply"


def _wrap(module: ModuleType, wanted: str) -> None:
    real = module.run_step
    real_run = module.run
    sent: list[Any] = []

    def run(request: Any, *args: Any, **kwargs: Any) -> Any:
        sent[:] = list(request.get("steps") or [])
        return real_run(request, *args, **kwargs)

    def run_step(ctx: Any, step: Any, run_command: Any, limit: int) -> Any:
        index = next((i for i, s in enumerate(sent) if s is step), -1)
        if wanted in (str(index), str(step.get("op"))):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(ctx, step, run_command, limit)

    setattr(module, "run", run)  # noqa: B010 - a module object, patched where it was loaded
    setattr(module, "run_step", run_step)  # noqa: B010


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != TARGET:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        real_exec = loader.exec_module

        def exec_module(module: ModuleType) -> None:  # the loader (a zip importer) loads other modules too
            real_exec(module)
            if module.__name__ == TARGET:
                _wrap(module, os.environ[KILL_BEFORE])

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if os.environ.get(KILL_BEFORE):
    sys.meta_path.insert(0, _Finder())
