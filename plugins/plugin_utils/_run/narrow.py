# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Narrowing what Ansible hands over untyped (documentation, registered results, facts) to the type it must have."""

from __future__ import annotations

from collections.abc import Mapping


def mapping(value: object, what: str) -> Mapping[str, object]:
    """``value`` when it is a mapping; else a TypeError naming ``what`` it should have been (``the facts' `stores```)."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} is a {type(value).__name__}, not a mapping")
    return value
