# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter mailsec.smsmse.defs_consensus: fleet consensus over every host's defs_verify results."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import consensus, verify

DOCUMENTATION = r"""
name: defs_consensus
short_description: Mark sets that differ from what a clear majority of the fleet holds
version_added: 0.1.0
description:
  - Takes every host's C(verification) (from M(mailsec.smsmse.defs_verify)) keyed by host name, and returns the
    same mapping with each set in the minority marked C(bad) with the error C(CONSENSUS_MINORITY), and each host's
    verdicts judged again (a copy that lost only to the source rule may be good once the fleet has spoken).
  - "Only sound copies vote: a copy with any structure or catalog problem (C(checked) is C(bad)) never votes."
  - "One vote per host per version: the digest the host's sound copies of the version agree on. A host whose sound
    copies of a version disagree abstains on it."
  - A version is decided only when at least O(min_hosts) hosts (never fewer than 3) vote on it and one digest has
    more than O(threshold) of the votes. Then every copy whose digest differs from the winner is C(bad), on every
    host, whether it voted or not.
positional: threshold, min_hosts
options:
  _input:
    description: Host name to C(verification) result.
    type: dict
    required: true
  threshold:
    description: The share of votes (hosts) a digest needs, more than this, from 0.5 (a simple majority) to below 1.
    type: float
    default: 0.5
  min_hosts:
    description: The fewest voting hosts that may decide a version (3 at least).
    type: int
    default: 3
author:
  - mailsec.smsmse developers (@mailsec)
"""

EXAMPLES = r"""
- name: Agree across the fleet
  ansible.builtin.set_fact:
    fleet_verification: >-
      {{ dict(ansible_play_hosts | zip(ansible_play_hosts | map('extract', hostvars, ['ansible_facts', 'smsmse_defs', 'verification'])))
         | mailsec.smsmse.defs_consensus(0.66) }}
  run_once: true
"""

RETURN = r"""
_value:
  description: Host name to C(verification), with minority sets marked C(bad) and C(newest_good) recomputed.
  type: dict
"""


def defs_consensus(verifications: Mapping[str, Any], threshold: float = 0.5, min_hosts: int = consensus.MIN_HOSTS) -> dict[str, Any]:
    if not isinstance(verifications, Mapping):
        raise AnsibleFilterError("defs_consensus expects a mapping of host name to defs_verify 'verification' results")
    try:
        findings = consensus.minorities(verifications, threshold=float(threshold), min_hosts=int(min_hosts))
    except (ValueError, KeyError, TypeError) as exc:
        raise AnsibleFilterError(f"defs_consensus: {exc}") from exc
    return {host: verify.apply_consensus(result, findings, host) for host, result in verifications.items()}


def defs_consensus_marks(
    results: Mapping[str, Any], threshold: float = 0.5, min_hosts: int = consensus.MIN_HOSTS
) -> dict[str, list[dict[str, Any]]]:
    """Host name -> the sets consensus marks bad there, from registered defs_verify results (failed ones are left out)."""
    if not isinstance(results, Mapping):
        raise AnsibleFilterError("defs_consensus_marks expects a mapping of host name to registered defs_verify results")
    verifications = {
        host: result["ansible_facts"]["smsmse_defs"]["verification"]
        for host, result in results.items()
        if isinstance(result, Mapping) and not result.get("failed") and not result.get("unreachable") and "ansible_facts" in result
    }
    try:
        findings = consensus.minorities(verifications, threshold=float(threshold), min_hosts=int(min_hosts))
    except ValueError as exc:
        raise AnsibleFilterError(f"defs_consensus_marks: {exc}") from exc
    marks: dict[str, list[dict[str, Any]]] = {host: [] for host in results}
    for finding in findings:
        marks[finding.host].append({k: v for k, v in finding.as_dict().items() if k in ("store", "version", "code", "message")})
    return marks


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"defs_consensus": defs_consensus, "defs_consensus_marks": defs_consensus_marks}
