"""The options of each module, typed as the module's documentation declares them.

An action plugin names its options' type in its base, ``DocumentedAction[PromoteOptions]``;
:class:`action_base.DocumentedAction` hands ``act`` the options Ansible checked against that
documentation. ``tests/unit/test_option_types.py`` holds every TypedDict here to its module's
``DOCUMENTATION``: the same option names, and value types that match the documented ``type``.
An option that is neither required nor has a default is ``None`` when not given.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class ProductOptions(TypedDict):
    """The product as installed, on hosts that are not Windows."""

    name: str | None
    version: str | None
    lines: dict[str, object] | None


class BadSet(TypedDict):
    """A set the caller marks bad (``bad_sets``), for example from fleet consensus."""

    store: str
    version: str
    code: str | None
    message: str | None


class HostOptions(TypedDict):
    """What every module that reads a host takes (doc fragment ``stores``)."""

    #: store name (``hawking``, ``smsmse_hawking``, ``csapi``) -> its path (``None``: detect it)
    stores: dict[str, str | None] | None
    product: ProductOptions | None
    events_file: str | None
    event_hours: int
    #: Windows: the store privacy rule (``writers``, ``owners``, ...), added to the installer's
    store_privacy: dict[str, object] | None
    #: folders probed like stores, added by a module (``source``: ``defs_promote``'s ``source_path``); not an option
    extra_stores: NotRequired[dict[str, str | None]]


class TrustOptions(TypedDict):
    """The signed catalog a module trusts, and its keys."""

    catalog: str | None
    trusted_keys: list[str]
    signature_threshold: int
    catalog_state: str | None


class HashingOptions(TypedDict):
    """How the probe hashes the sets."""

    deep: bool
    hash_cache_max_age_days: int
    hash_cache_dir: str | None


class VerifyOptions(HostOptions, TrustOptions, HashingOptions):
    """``defs_verify``: the host, hashed and judged (doc fragment ``verify``)."""

    required_files: list[str]


class ChangeOptions(VerifyOptions):
    """What every changing module takes (doc fragment ``change``)."""

    lock_stale_seconds: int
    restart_service: bool
    service_name: str | None
    restart_command: list[str] | None
    state: dict[str, object] | None
    bad_sets: list[BadSet]


class ContextOptions(TypedDict):
    """What a change's plan context reads: the lock, the events file and the restart (every ChangeOptions has them)."""

    lock_stale_seconds: int
    events_file: str | None
    restart_service: bool
    service_name: str | None
    restart_command: list[str] | None


class PromoteOptions(ChangeOptions):
    target: str
    source: str | None
    source_path: str | None
    version: str
    allow_downgrade: bool
    keep: int


class RollbackOptions(ChangeOptions):
    store: str
    to: str
    quarantine: bool
    quarantine_dir: str | None


class ImportOptions(ChangeOptions):
    source: str
    version: str
    store: str | None
    validate_certs: bool
    ca_path: str | None
    proxy: str | None
    timeout: int
    deadline: int


class HealthHostOptions(ChangeOptions):
    verified: object
    decided: dict[str, object] | None
    marks: list[dict[str, str]]
    #: version -> digest -> hosts voting for it (``consensus.Tally``)
    votes: dict[str, dict[str, int]] | None
    consensus_threshold: float
    mode: str
    max_age_days: int
    keep: int
    quarantine: bool
    repair_hawking: bool
    liveupdate: bool
    sources: list[str]
    source_timeout: int
    source_validate_certs: bool
    source_ca_path: str | None
    source_proxy: str | None
    liveupdate_timeout: int
    liveupdate_command: object


class HealthFleetOptions(TrustOptions):
    hosts: list[str]
    result_var: str
    consensus: bool
    threshold: float
    mode: str
    max_age_days: int
    repair_hawking: bool
    sources: list[str]
    required_files: list[str]
    liveupdate: bool
    fail_on: str
    fail_severities: list[str]


class HealthCheckOptions(TypedDict):
    options: dict[str, object]


class ReportOptions(TypedDict):
    report_dir: str | None
    formats: list[str]
    records: list[dict[str, object]] | None
    hosts: list[str] | None
    result_var: str
    run_id: str
    started: str
    options: dict[str, object]
    fail_severities: list[str]
    fail_on: str
    history_runs: int


class SigningKey(TypedDict):
    path: str
    passphrase: str | None


class CatalogOptions(TypedDict):
    dest: str
    sets: list[str]
    signing_keys: list[SigningKey]
    expires_days: int
    renew_before_days: int
    sequence: int | None
    catalog_state: str | None
    required_files: list[str]


class CatalogKeyOptions(TypedDict):
    path: str
    public_path: str | None
    passphrase: str | None
    allow_readable_key: bool


class LabOptions(TypedDict):
    dir: str
    hosts: int
    mix: str
    windows_every: int
    group_vars: dict[str, object]


class LiveUpdateOptions(TypedDict):
    command: object
    luall_path: str | None
    arguments: list[str]
    timeout: int
