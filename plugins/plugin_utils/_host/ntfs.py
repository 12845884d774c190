"""File names as Windows sees them: which names are one file, and which open a device.

Two names are one file to Windows when they are equal once each part loses its
trailing dots and spaces (the Win32 layer drops them) and each character goes
through NTFS's upcase table. That table maps one character to one, by simple
upper case: ``ß`` stays ``ß`` (``str.upper`` would give ``SS``, ``str.casefold``
``ss``), the ligature ``ﬁ`` stays ``ﬁ``, and the Kelvin sign is not ``K``. So
``straße.dat`` and ``STRASSE.DAT`` are two files on NTFS, ``virscan1.dat`` and
``VIRSCAN1.DAT.`` one. Every decision that two names are one (collisions in a
set, required files, store folders) goes through :func:`key`.

Some names are no file at all: Windows opens a device for them in any folder
(:data:`RESERVED_DEVICE_NAMES`, :func:`reserved_part`).
"""

from __future__ import annotations

#: names Windows opens as a device, not a file, in any folder: with any extension, trailing dots or spaces, in any case.
#: Windows counts the superscript digits as digits here (COM¹ is a port). A line adds a name.
RESERVED_DEVICE_NAMES: frozenset[str] = frozenset(
    (
        "CON",
        "PRN",
        "AUX",
        "NUL",
        "CONIN$",
        "CONOUT$",
        *(f"{port}{digit}" for port in ("COM", "LPT") for digit in "0123456789\u00b9\u00b2\u00b3"),
    )
)


def upper(name: str) -> str:
    """``name`` through NTFS's upcase table: each character's simple upper case, one character for one."""
    return "".join(up if len(up := char.upper()) == 1 else char for char in name)


def key(path: str, separator: str = "/") -> str:
    """The name Windows opens for ``path``: each part without trailing dots and spaces, through :func:`upper`."""
    return separator.join(upper(part.rstrip(". ")) for part in path.split(separator))


def reserved_part(path: str) -> str | None:
    """The part of the '/'-separated ``path`` Windows would open as a device (``NUL.txt``, ``con .dat``, ``COM¹``), or None.

    Windows drops trailing dots and spaces, then the extension (from the first dot)
    and the spaces before it, and compares what is left with the device names in any case.
    """
    for part in path.split("/"):
        stem = part.rstrip(". ").split(".", 1)[0].rstrip(" ")
        if upper(stem) in RESERVED_DEVICE_NAMES:
            return part
    return None
