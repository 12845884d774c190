# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter mailsec.smsmse.defs_consensus: fleet consensus over every host's defs_verify results."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import consensus, verify


def defs_consensus(verifications: object, threshold: float = 0.5, min_hosts: int = consensus.MIN_HOSTS) -> dict[str, verify.Verification]:
    if not isinstance(verifications, Mapping):
        raise AnsibleFilterError("defs_consensus expects a mapping of host name to defs_verify 'verification' results")
    try:
        findings = consensus.minorities(verifications, threshold=float(threshold), min_hosts=int(min_hosts))
    except (ValueError, KeyError, TypeError) as exc:
        raise AnsibleFilterError(f"defs_consensus: {exc}") from exc
    return {host: verify.apply_consensus(result, findings, host) for host, result in verifications.items()}


def defs_consensus_marks(
    results: object, threshold: float = 0.5, min_hosts: int = consensus.MIN_HOSTS
) -> dict[str, list[dict[str, object]]]:
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
    marks: dict[str, list[dict[str, object]]] = {host: [] for host in results}
    for finding in findings:
        marks[finding.host].append({k: v for k, v in finding.as_dict().items() if k in ("store", "version", "code", "message")})
    return marks


class FilterModule:
    def filters(self) -> dict[str, Callable[..., object]]:
        return {"defs_consensus": defs_consensus, "defs_consensus_marks": defs_consensus_marks}
