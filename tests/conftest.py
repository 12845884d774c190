"""Make the repository importable as ``ansible_collections.mailsec.smsmse`` and share lab fixtures."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
COLLECTIONS = ROOT / ".build" / "collections"


def _link_collection() -> None:
    link = COLLECTIONS / "ansible_collections" / "mailsec" / "smsmse"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        tmp = link.with_name(f".smsmse-{os.getpid()}")
        tmp.symlink_to(os.path.relpath(ROOT, link.parent))
        os.replace(tmp, link)
    if str(COLLECTIONS) not in sys.path:
        sys.path.insert(0, str(COLLECTIONS))


_link_collection()


import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# Property tests assert behaviour, never speed: on a loaded machine (CI, or several test runs at once) hypothesis' own
# timing checks (a per-example deadline, "input generation is slow") would fail tests whose behaviour is right.
settings.register_profile("project", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("project")


@pytest.fixture
def lab_factory(tmp_path: Path) -> Callable[..., Path]:
    """Build a lab in a temporary folder: ``lab_factory(LabHost(...), ...)`` returns the inventory path."""
    from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab

    def build(*hosts: lab.LabHost) -> Path:
        return lab.build_lab(tmp_path / "lab", list(hosts))

    return build


@pytest.fixture
def product_emulators() -> Iterator[Callable[..., Any]]:
    """Start the product emulator on lab hosts: ``product_emulators(inventory, hosts=None, period=0.2, continuous=False)``;
    stopped at teardown."""
    from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab_product

    started: list[Any] = []

    def start(inventory: Path, hosts: list[str] | None = None, period: float = 0.2, continuous: bool = False) -> Any:
        processes = lab_product.start(inventory, hosts, period, continuous=continuous)
        started.append(processes)
        return processes

    yield start
    for processes in started:
        lab_product.stop(processes)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked slow run only when asked for: ``pytest -m slow``."""
    if "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def https_distpoint(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Serve a folder over HTTPS from Debian's nginx on 127.0.0.1 (a CA made for the test): ``https_distpoint(root)``
    returns the running server (``url``, ``pki.ca``); every server is stopped at teardown. Skips where nginx is missing."""
    from ansible_collections.mailsec.smsmse.tests import distpoint_server

    binary = distpoint_server.nginx_binary()
    if binary is None:
        pytest.skip(distpoint_server.NO_NGINX)
    pki = distpoint_server.make_ca(tmp_path / "pki")
    started: list[Any] = []

    def serve(root: Path, extra: str = "") -> Any:
        server = distpoint_server.Nginx(binary, root, tmp_path / f"nginx-{len(started)}", pki, extra=extra)
        started.append(server)
        return server.start()

    try:
        yield serve
    finally:
        for server in started:
            server.stop()
