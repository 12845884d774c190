# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a store's ``definfo.dat`` names, read on the host at the moment a step needs it (the POSIX agent).

The controller parses ``definfo.dat`` fully (plugins/plugin_utils/_host/definfo.py); the
agent only needs to know, right before it removes a set, whether the pointer
names it, and, at the end of an ``apply``, which set the pointer names. So it
reads the ``[DefDates]`` section's values, in the file's encoding (UTF-16 with a
byte order mark, UTF-8, else Latin-1), and never trusts them beyond that: the
reply carries the file itself, and the controller reads it again.
"""

from __future__ import annotations

import codecs
import errno
import os

from ansible_collections.mailsec.smsmse.plugins.module_utils.regular_files import NotRegularFile, read_regular

SECTION = "defdates"
CUR_DEFS = "curdefs"


def decode(data: bytes) -> str:
    for bom, encoding in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"), (codecs.BOM_UTF8, "utf-8")):
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, "replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def def_dates(data: bytes) -> dict[str, str]:
    """The ``[DefDates]`` keys (lower case) and their values; the first of a repeated key wins."""
    found: dict[str, str] = {}
    section = None
    for raw in decode(data).splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip().lower()
        elif section == SECTION and "=" in line:
            key, _eq, value = line.partition("=")
            found.setdefault(key.strip().lower(), value.strip())
    return found


def read(store: str, definfo: str, limit: int) -> tuple[dict[str, str] | None, str | None]:
    """The ``[DefDates]`` values of ``<store>/<definfo>`` (None when absent), or why it cannot be read.

    A file larger than ``limit`` names nothing the agent can trust (the controller
    treats it as a bad pointer); a link, folder or special file is never opened.
    """
    path = os.path.join(store, definfo)
    try:
        data = read_regular(path, limit)
    except NotRegularFile as exc:
        return None, f"{path} is {exc.strerror}"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, f"{path} is a link (never followed)"
        return None, f"{path} cannot be read: {exc.strerror or exc}"
    if data is None:
        return None, None
    if len(data) > limit:
        return None, f"{path} is larger than {limit} bytes"
    return def_dates(data), None


def names(store: str, definfo: str, limit: int, name: str) -> str | None:
    """Which key of the store's pointer names the folder ``name`` right now (``CurDefs``, ``LastDefs``...), or None."""
    values, _why = read(store, definfo, limit)
    for key, value in (values or {}).items():
        if value == name:
            return key
    return None
