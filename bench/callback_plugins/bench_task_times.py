# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark callback: the wall time of every task (from its start to the next task's start), printed at the end.

Enabled by bench/fleet_time.py only (ANSIBLE_CALLBACKS_ENABLED=bench_task_times); lines start with ``TASK-TIME``.
"""

from __future__ import annotations

import time
from typing import Any

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: bench_task_times
type: aggregate
short_description: Wall time per task, for the benchmarks
description: Prints one C(TASK-TIME seconds name) line per task at the end of the run.
requirements: [enable in the configuration]
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_task_times"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._times: list[list[Any]] = []

    def _start(self, name: str) -> None:
        now = time.perf_counter()
        if self._times and self._times[-1][2] is None:
            self._times[-1][2] = now
        self._times.append([name, now, None])

    def v2_playbook_on_task_start(self, task: Any, is_conditional: bool) -> None:
        self._start(task.get_name())

    def v2_playbook_on_handler_task_start(self, task: Any) -> None:
        self._start(task.get_name())

    def v2_playbook_on_stats(self, stats: Any) -> None:
        now = time.perf_counter()
        for name, started, ended in self._times:
            self._display.display(f"TASK-TIME {(ended or now) - started:.3f} {name}")
