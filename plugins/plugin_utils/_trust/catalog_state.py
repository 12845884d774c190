"""The highest catalog sequence number accepted so far, kept in a file on the controller.

Many hosts are verified at once (forks), each in its own process, so the
file is read and raised under an exclusive lock and replaced atomically; the
number only ever goes up.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.files import parse_json, read_regular
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

STATE_MAX_BYTES = 4096


@contextmanager
def _locked(path: str) -> Iterator[None]:
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        handle = open(path + ".lock", "a+")  # noqa: SIM115 - held for the with block below
    except OSError as exc:
        raise SmsmseError("STATE_UNWRITABLE", f"The catalog state {path} cannot be locked: {exc}.", path=path) from None
    with handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _read(path: str) -> int | None:
    try:
        value = parse_json(read_regular(path, STATE_MAX_BYTES))["sequence"]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SmsmseError(
            "STATE_UNWRITABLE", f"The catalog state {path} is unreadable ({exc}); it guards against replayed catalogs.", path=path
        ) from None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SmsmseError("STATE_UNWRITABLE", f"The catalog state {path} holds no valid sequence number.", path=path)
    return value


def last_sequence(path: str) -> int | None:
    """The highest sequence accepted so far, or None before the first."""
    with _locked(path):
        return _read(path)


def record(path: str, sequence: int) -> int:
    """Raise the stored sequence to ``sequence`` (never lower it); return what is stored now."""
    with _locked(path):
        current = _read(path)
        if current is not None and current >= sequence:
            return current
        try:
            fd, tmp = tempfile.mkstemp(prefix=".catalog-state-", dir=os.path.dirname(os.path.abspath(path)))
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"sequence": sequence}, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            raise SmsmseError("STATE_UNWRITABLE", f"The catalog state {path} cannot be written: {exc}.", path=path) from None
        return sequence
