"""The events this collection writes for each change it makes, as data.

Windows hosts: the Application log, source ``mailsec.smsmse``. POSIX hosts: the
JSON-lines events file of the host (``events_file``). The IDs are documented in
the README and never change meaning.
"""

from __future__ import annotations

from typing import Any

SOURCE = "mailsec.smsmse"

#: name -> (event id, entry type, message template)
EVENTS: dict[str, tuple[int, str, str]] = {
    "promoted": (1000, "Information", "mailsec.smsmse promoted virus definitions {version} into {store} ({path}); previous: {previous}."),
    "rolled_back": (
        1001,
        "Information",
        "mailsec.smsmse rolled {store} ({path}) back to virus definitions {version}; previous: {previous}.",
    ),
    "downgraded": (
        1002,
        "Warning",
        "mailsec.smsmse put {store} ({path}) back to {version}, below its newest good version {newest}: "
        "a recorded downgrade; previous: {previous}.",
    ),
    "quarantined": (1003, "Warning", "mailsec.smsmse moved {quarantined} (not good) out of {store} ({path}) into quarantine."),
}


def event(name: str, **values: object) -> dict[str, Any]:
    event_id, entry_type, template = EVENTS[name]
    return {"id": event_id, "type": entry_type, "message": template.format(**values)[:4096]}
