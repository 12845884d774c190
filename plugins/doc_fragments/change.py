# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """Options of the modules that change a store (defs_promote, defs_rollback)."""

    DOCUMENTATION = r"""
options:
  lock_stale_seconds:
    description:
      - A store's lock older than this is taken to belong to a crashed run and is broken. A lock whose
        process is gone (same host) is broken at once.
      - From 1 to 86400.
    type: int
    default: 900
  restart_service:
    description:
      - Restart the SMSMSE service around a change (Windows), or run O(restart_command) after it (POSIX hosts).
      - On Windows the service is stopped after the new set is copied, right before the steps that switch what the scanner
        uses, and started again right after them (before old sets are retired or quarantined). It is started again only if
        the change stopped it, and also when the change fails or stops early.
      - A restart that fails (the service does not start again, or the command fails or times out) fails the task with
        C(SERVICE_NOT_RESTARTED); the message says whether the change itself was made. A run that stopped and started the
        service reports C(changed), even when nothing changed in the stores.
    type: bool
    default: false
  service_name:
    description:
      - The SMSMSE service to restart on Windows.
      - When not given, the service whose binary lies under the product's install folder (from its Uninstall entry),
        as the facts' C(product.service) report it; C(SMSMSE) when none is found.
    type: str
  restart_command:
    description: On POSIX hosts, the command (argument list) that O(restart_service) runs.
    type: list
    elements: str
  state:
    description:
      - The C(assessment) a M(mailsec.smsmse.defs_verify) task on this host returned (C(register) it and pass
        C(result.assessment)). The module then does not read the host again, which saves one agent call; the catalog
        options and O(bad_sets) are applied again to what it holds. It is checked against C(schemas/assessment.json)
        and must have been read with the same store paths (C(OPTION_INVALID) otherwise).
      - The change still refuses, with C(CHANGE_CONFLICT), if C(definfo.dat) changed since that state was read.
    type: dict
  bad_sets:
    description:
      - Sets to treat as bad in addition to what verification finds, each a dict with C(store) and C(version),
        for example those the C(mailsec.smsmse.defs_consensus_marks) filter returns for the host, as they are
        (with their C(code) and C(message)). It can only make a set worse, never better.
    type: list
    elements: dict
    default: []
    suboptions:
      store:
        description: The store holding the set.
        type: str
        required: true
      version:
        description: The set's version.
        type: str
        required: true
      code:
        description: Why the set is bad, as a stable code; the set's error carries it.
        type: str
        choices: [CONSENSUS_MINORITY]
        default: CONSENSUS_MINORITY
        version_added: 0.2.0
      message:
        description: Why the set is bad, in words (the filter's message names the fleet's digest and votes); the set's error carries it.
        type: str
        version_added: 0.2.0
"""
