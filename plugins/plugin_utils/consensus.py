"""Fleet consensus: hosts that hold the same set version should hold the same bytes.

For each version, the hosts holding it vote with their set digest. When at
least ``min_hosts`` hosts hold it and one digest has more than ``threshold``
of the votes, every host with another digest is in the minority and its set
is marked bad (``CONSENSUS_MINORITY``). Without a clear majority nothing is
decided, and too few hosts never decide.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MIN_HOSTS = 3


@dataclass(frozen=True)
class Finding:
    host: str
    store: str
    version: str
    digest: str
    majority_digest: str
    agreeing: int
    voting: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": "CONSENSUS_MINORITY",
            "message": (
                f"Set {self.version} in {self.store} differs from {self.agreeing} of the {self.voting} copies in the fleet: "
                "its bytes are not what the fleet has."
            ),
            "path": None,
            "host": self.host,
            "store": self.store,
            "version": self.version,
            "digest": self.digest,
            "majority_digest": self.majority_digest,
        }


def minorities(verifications: Mapping[str, Mapping[str, Any]], *, threshold: float = 0.5, min_hosts: int = MIN_HOSTS) -> list[Finding]:
    """Every set copy in the minority, from each host's ``verification`` result.

    Each copy of a version (a host's store holding it) votes with its digest;
    the version is decided only when at least ``min_hosts`` distinct hosts hold it.
    """
    if not 0.5 <= threshold < 1:
        raise ValueError("the consensus threshold is a fraction from 0.5 (simple majority) to below 1")
    copies: dict[str, list[tuple[str, str, str]]] = {}
    for host, verification in verifications.items():
        for entry in verification.get("sets", []):
            if entry.get("digest"):
                copies.setdefault(entry["version"], []).append((host, entry["store"], entry["digest"]))
    found: list[Finding] = []
    for version, held in sorted(copies.items()):
        hosts = {copy[0] for copy in held}
        if len(hosts) < max(min_hosts, MIN_HOSTS):
            continue
        ((winner, count),) = Counter(copy[2] for copy in held).most_common(1)
        if count / len(held) <= threshold:
            continue
        found.extend(
            Finding(host, store, version, digest, winner, count, len(held)) for host, store, digest in sorted(held) if digest != winner
        )
    return found
