"""Fleet consensus: hosts that hold the same set version should hold the same bytes.

The voting rule (the module docs of defs_verify and defs_consensus say the same):

- **Only sound copies vote.** A copy votes only when its own checks passed:
  structure, and the catalog when one is configured (``checked`` is ``good``
  or ``unknown``) and it has a digest. A copy with any structure or catalog
  problem never votes, anywhere.
- **One vote per host per version.** A host votes with the digest its sound
  copies of the version agree on. A host whose sound copies of a version
  disagree (say Hawking and CSAPI differ) abstains on that version.
- **A quorum of hosts.** A version is decided only when at least ``min_hosts``
  hosts vote on it (never fewer than :data:`MIN_HOSTS`).
- **A clear majority.** The most common digest wins when its share of the votes
  is more than ``threshold`` (0.5: a simple majority). Otherwise nothing is
  decided, and the host rules of :func:`verify.judge` still apply.
- **Once decided, every copy whose digest differs from the winner is bad**
  (``CONSENSUS_MINORITY``), on every host, abstaining or not. Copies that
  already failed their own checks are bad anyway and get no second mark.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MIN_HOSTS = 3
#: verdicts of a copy's own checks that let it vote
SOUND = ("good", "unknown")


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
                f"Set {self.version} in {self.store} differs from the copy {self.agreeing} of the {self.voting} voting hosts "
                "of the fleet hold: its bytes are not what the fleet has."
            ),
            "path": None,
            "host": self.host,
            "store": self.store,
            "version": self.version,
            "digest": self.digest,
            "majority_digest": self.majority_digest,
        }


def sound(entry: Mapping[str, Any]) -> bool:
    """Whether a set record of a ``verification`` may vote: its own checks passed and it has a digest."""
    checked = entry.get("checked", entry.get("status"))
    return checked in SOUND and bool(entry.get("digest"))


def minorities(verifications: Mapping[str, Mapping[str, Any]], *, threshold: float = 0.5, min_hosts: int = MIN_HOSTS) -> list[Finding]:
    """Every sound copy whose digest differs from what the fleet decided, by the voting rule above."""
    if not 0.5 <= threshold < 1:
        raise ValueError("the consensus threshold is a fraction from 0.5 (simple majority) to below 1")
    copies: dict[str, list[tuple[str, str, str]]] = {}  # version -> (host, store, digest) of sound copies
    for host, verification in verifications.items():
        for entry in verification.get("sets", []):
            if sound(entry):
                copies.setdefault(entry["version"], []).append((host, entry["store"], entry["digest"]))
    found: list[Finding] = []
    for version, held in sorted(copies.items()):
        by_host: dict[str, set[str]] = {}
        for host, _store, digest in held:
            by_host.setdefault(host, set()).add(digest)
        votes = [next(iter(digests)) for digests in by_host.values() if len(digests) == 1]
        if len(votes) < max(min_hosts, MIN_HOSTS):
            continue
        ((winner, count),) = Counter(votes).most_common(1)
        if count / len(votes) <= threshold:
            continue
        found.extend(
            Finding(host, store, version, digest, winner, count, len(votes)) for host, store, digest in sorted(held) if digest != winner
        )
    return found
