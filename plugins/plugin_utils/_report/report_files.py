"""Writing the fleet report: where it goes (:func:`resolve_dir`), each format rendered, every file written together or
not at all, and a copy kept in the history."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report.report_build import DATA_FOLDER, DEFAULT_HISTORY_RUNS
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report.report_history import kept_run
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report.report_types import Report


def default_dir(environ: Mapping[str, str], home: Path) -> Path:
    """``$XDG_DATA_HOME/mailsec-smsmse/defs-health``, else ``~/.local/share/mailsec-smsmse/defs-health``.

    A relative ``XDG_DATA_HOME`` is ignored, as the XDG Base Directory specification says.
    """
    base = environ.get("XDG_DATA_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else home / ".local" / "share"
    return root.joinpath(*DATA_FOLDER)


def resolve_dir(option: str | None) -> Path:
    """The absolute report folder: the option when set (``~`` expanded), else :func:`default_dir`."""
    if option:
        return Path(os.path.expanduser(option)).absolute()
    return default_dir(os.environ, Path.home())


def _json(report: Report) -> str:
    return json.dumps(report, indent=1, sort_keys=True) + "\n"


def renderers() -> dict[str, tuple[str, Callable[[Report], str]]]:
    from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report import report_html, report_junit

    return {
        "json": ("defs-health.json", _json),
        "html": ("defs-health.html", report_html.render),
        "junit": ("defs-health.junit.xml", report_junit.render),
    }


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".defs-health-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _write_together(files: Mapping[Path, str]) -> None:
    """Write every file or none: each to a temporary file first, then all renamed into place."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, text in files.items():
            fd, tmp = tempfile.mkstemp(prefix=".defs-health-", dir=path.parent)
            staged.append((tmp, path))
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(tmp, 0o644)
    except BaseException:
        for tmp, _path in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
        raise
    for tmp, path in staged:
        os.replace(tmp, path)


def write(report: Report, report_dir: Path, formats: Sequence[str], *, history_runs: int = DEFAULT_HISTORY_RUNS) -> dict[str, str]:
    """Write the report in each format, together or not at all (every format rendered and written aside before any
    replaces its file), keep a copy in the history (the last ``history_runs``); return format -> path."""
    report_dir.mkdir(parents=True, exist_ok=True)
    table = renderers()
    rendered = {report_dir / table[fmt][0]: table[fmt][1](report) for fmt in formats}
    _write_together(rendered)
    written = {fmt: str(report_dir / table[fmt][0]) for fmt in formats}
    history = report_dir / "history"
    history.mkdir(exist_ok=True)
    if history_runs > 0:
        _write(history / f"defs-health-{report['run_id']}.json", json.dumps(kept_run(report), sort_keys=True))
    kept = sorted(history.glob("defs-health-*.json"))
    for old in kept[: max(len(kept) - history_runs, 0)]:
        old.unlink()
    return written
