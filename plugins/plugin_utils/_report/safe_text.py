"""Text from hosts made safe for XML 1.0 and HTML: forbidden and control characters become visible escapes.

XML 1.0 allows only tab, line feed, carriage return, U+0020-U+D7FF, U+E000-U+FFFD
and U+10000-U+10FFFF; a single other character (``\\x01``, ``\\x1b``, a lone
surrogate) makes the whole document malformed. DEL and the C1 controls are
allowed by XML but are parse errors in HTML and never meant as text, so they
are escaped as well. ``\\x1b[31m`` is shown as the seven characters
``\\x1b[31m``, so a reader sees what the host sent. :func:`line` also escapes
line breaks, for text that must stay on one line (a list of entries, one per line).
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def text(value: object) -> str:
    """``value`` as a string holding only characters XML 1.0 and HTML accept as text."""
    return _UNSAFE.sub(_escape, value if isinstance(value, str) else str(value))


_BREAKS = {"\n": "\\n", "\r": "\\r", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_BREAK = re.compile("[\n\r\u2028\u2029]")


def line(value: object) -> str:
    """:func:`text` on one line: line breaks are shown as ``\\n``, ``\\r``, ``\\u2028`` and ``\\u2029``."""
    return _BREAK.sub(lambda match: _BREAKS[match.group()], text(value))
