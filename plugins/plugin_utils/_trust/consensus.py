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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust.problems import ProblemRecord

if TYPE_CHECKING:  # verify reads consensus findings: the types only, to keep the import one way
    from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust.verify import SetVerdict, Verification

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

    def problem(self) -> ProblemRecord:
        """The finding as a problem of the minority copy."""
        return {
            "code": "CONSENSUS_MINORITY",
            "message": (
                f"Set {self.version} in {self.store} differs from the copy {self.agreeing} of the {self.voting} voting hosts "
                "of the fleet hold: its bytes are not what the fleet has."
            ),
            "path": None,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.problem(),
            "host": self.host,
            "store": self.store,
            "version": self.version,
            "digest": self.digest,
            "majority_digest": self.majority_digest,
        }


def sound(entry: SetVerdict) -> bool:
    """Whether a set record of a ``verification`` may vote: its own checks passed and it has a digest."""
    checked = entry.get("checked", entry.get("status"))
    return checked in SOUND and bool(entry.get("digest"))


#: version -> digest -> how many hosts vote for it
Tally = dict[str, dict[str, int]]


def host_votes(verification: Verification) -> dict[str, str]:
    """Version -> the digest this host votes for (its sound copies agree); versions it abstains on are left out."""
    digests: dict[str, set[str]] = {}
    for entry in verification.get("sets", []):
        if sound(entry) and entry["digest"] is not None:
            digests.setdefault(entry["version"], set()).add(entry["digest"])
    return {version: next(iter(found)) for version, found in digests.items() if len(found) == 1}


def tally(verifications: Mapping[str, Verification]) -> Tally:
    """Every host's votes, counted per version and digest."""
    counted: Tally = {}
    for verification in verifications.values():
        for version, digest in host_votes(verification).items():
            counted.setdefault(version, {}).setdefault(digest, 0)
            counted[version][digest] += 1
    return counted


def revote(counted: Mapping[str, Mapping[str, int]], before: Verification, after: Verification) -> Tally:
    """The tally with one host's votes taken again: ``before`` and ``after`` are its verifications (LiveUpdate between)."""
    changed: Tally = {version: dict(digests) for version, digests in counted.items()}
    for version, digest in host_votes(before).items():
        if changed.get(version, {}).get(digest):
            changed[version][digest] -= 1
    for version, digest in host_votes(after).items():
        changed.setdefault(version, {}).setdefault(digest, 0)
        changed[version][digest] += 1
    return changed


def winners(
    counted: Mapping[str, Mapping[str, int]], *, threshold: float = 0.5, min_hosts: int = MIN_HOSTS
) -> dict[str, tuple[str, int, int]]:
    """Version -> (winning digest, its votes, all votes) for every version the fleet decided."""
    if not 0.5 <= threshold < 1:
        raise ValueError("the consensus threshold is a fraction from 0.5 (simple majority) to below 1")
    decided = {}
    for version, digests in counted.items():
        total = sum(digests.values())
        if total < max(min_hosts, MIN_HOSTS) or not total:
            continue
        winner, count = max(sorted(digests.items()), key=lambda item: item[1])
        if count / total > threshold:
            decided[version] = (winner, count, total)
    return decided


def findings(host: str, verification: Verification, decided: Mapping[str, tuple[str, int, int]]) -> list[Finding]:
    """The copies of ``host`` that differ from what the fleet decided (copies without a digest cannot be compared)."""
    found = []
    for entry in sorted(verification.get("sets", []), key=lambda e: (e["store"], e["version"])):
        won = decided.get(entry["version"])
        if won and sound(entry) and entry["digest"] is not None and entry["digest"] != won[0]:
            found.append(Finding(host, entry["store"], entry["version"], entry["digest"], won[0], won[1], won[2]))
    return found


def minorities(verifications: Mapping[str, Verification], *, threshold: float = 0.5, min_hosts: int = MIN_HOSTS) -> list[Finding]:
    """Every sound copy whose digest differs from what the fleet decided, by the voting rule above."""
    decided = winners(tally(verifications), threshold=threshold, min_hosts=min_hosts)
    return [finding for host in sorted(verifications) for finding in findings(host, verifications[host], decided)]
