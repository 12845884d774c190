"""Examples are tests: every YAML block of README.md and the EXAMPLES of every module and filter, run as written.

Each example runs with ansible-playbook against a fresh lab (whose hosts are in the group
``exchange_servers`` the examples target, with the host variables a real site sets). Only what
stands for a real site is substituted: the paths in :data:`PATHS`, the values in :data:`VARIABLES`,
and the version in :data:`VERSIONS`. An example that needs Windows is marked (a ``# requires: windows``
line above a task, or ``<!-- windows-only -->`` before a README block) and only syntax-checked.
:data:`SNIPPETS` lists every example and what is done with it; a new example must be added there.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab

from .runner import BIN, ROOT, Run, playbook

pytestmark = pytest.mark.integration

#: a real site's paths -> where they are in the test (relative to the test's folder; "lab/" is the lab)
PATHS = {
    "/etc/smsmse": "site/etc/smsmse",
    "/var/lib/smsmse": "site/var/lib/smsmse",
    "/srv/reference": "lab/reference",
    "/srv/smsmse-distpoint": "lab/reference",  # the reference sets are laid out as a distribution point
    "/srv/www/smsmse": "site/www/smsmse",
    "/srv/defs": "lab/hosts/mail01",
    "/tmp/smsmse-lab": "site/tmp/smsmse-lab",
}
PASSPHRASES = {"ops1": "ops1 passphrase", "ops2": "ops2 passphrase", "sec1": "sec1 passphrase"}
#: the variables the examples take from a site's inventory or vault
VARIABLES: dict[str, Any] = {
    "vault_passphrases": PASSPHRASES,
    "vault_ops1_passphrase": PASSPHRASES["ops1"],
    "vault_sec1_passphrase": PASSPHRASES["sec1"],
    "vault_catalog_key_passphrase": PASSPHRASES["ops1"],
    "smsmse_trusted_keys": [
        "{{ lookup('ansible.builtin.file', '/etc/smsmse/keys/ops1.key.pub') }}",
        "{{ lookup('ansible.builtin.file', '/etc/smsmse/keys/sec1.key.pub') }}",
    ],
}
#: versions an example names -> the lab's set that stands for it (index into the hosts' versions, oldest first)
VERSIONS = {"20261123.001": -2}

#: every example -> what is done with it: "run" (against the lab), "syntax" (Windows only), "builder" (ansible-builder)
SNIPPETS = {
    "README.md: Where does every mail server stand?": "run",
    "README.md: Sign a catalog of trusted reference sets": "run",
    "README.md: Put the newest good Hawking set into CSAPI, and roll back where CSAPI's set is bad": "run",
    "README.md: Keep every mail server's definitions healthy": "run",
    "README.md: Publish a distribution point from the trusted reference sets": "run",
    "README.md: execution-environment": "builder",
    **{f"module {name}": "run" for name in sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("defs_*.py"))},
    "module defs_facts (windows)": "syntax",
    "module defs_promote (windows)": "syntax",
    **{f"filter {name}": "run" for name in sorted(p.stem for p in (ROOT / "plugins" / "filter").glob("*.yml"))},
}

#: the trusted keys and the signed catalog a site has before the examples run (what the README's catalog example makes)
SITE_TRUST = """
- name: Keys and a catalog, as a site has them
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Signing keys
      mailsec.smsmse.defs_catalog_key:
        path: "/etc/smsmse/keys/{{ item }}.key"
        passphrase: "{{ vault_passphrases[item] }}"
      loop: [ops1, ops2, sec1]
    - name: The reference sets
      ansible.builtin.find:
        paths: /srv/reference
        file_type: directory
      register: reference
    - name: A catalog signed by two of them
      mailsec.smsmse.defs_catalog:
        dest: /etc/smsmse/catalog.json
        sets: "{{ reference.files | map(attribute='path') | list }}"
        signing_keys:
          - {path: /etc/smsmse/keys/ops1.key, passphrase: "{{ vault_passphrases.ops1 }}"}
          - {path: /etc/smsmse/keys/sec1.key, passphrase: "{{ vault_passphrases.sec1 }}"}
"""


@dataclass
class Snippet:
    id: str
    text: str  # a playbook, or a list of tasks
    tasks: bool  # the text is a list of tasks (module and filter EXAMPLES), played against exchange_servers


def readme_snippets() -> Iterator[tuple[Snippet, str]]:
    """Each YAML block of README.md, with the marker on the line before it (if any)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for match in re.finditer(r"(?:<!-- ([a-z-]+) -->\n)?```yaml\n(.*?)```", text, re.S):
        marker, body = match.group(1) or "", match.group(2)
        data = yaml.safe_load(body)
        name = data[0]["name"] if isinstance(data, list) else marker
        yield Snippet(f"README.md: {name}", body, tasks=False), marker


def split_tasks(examples: str) -> tuple[str, str]:
    """EXAMPLES split into the tasks that run anywhere and those marked ``# requires: windows``."""
    chunks: list[list[str]] = []
    pending: list[str] = []
    for line in examples.strip("\n").splitlines():
        if line.startswith("#") or not line.strip():
            pending.append(line)
        elif line.startswith("- "):
            chunks.append([*pending, line])
            pending = []
        else:
            chunks[-1].extend([*pending, line])
            pending = []
    anywhere = [c for c in chunks if "# requires: windows" not in c]
    windows = [c for c in chunks if "# requires: windows" in c]
    return "\n".join("\n".join(c) for c in anywhere) + "\n", "\n".join("\n".join(c) for c in windows) + "\n"


def plugin_snippets() -> Iterator[Snippet]:
    """The EXAMPLES of every module (and its Windows-only tasks apart), and of every filter."""
    for path in sorted((ROOT / "plugins" / "modules").glob("defs_*.py")):
        source = path.read_text(encoding="utf-8")
        examples = re.search(r'^EXAMPLES = r"""\n(.*?)^"""', source, re.S | re.M)
        assert examples, f"{path.name} has no EXAMPLES"
        anywhere, windows = split_tasks(examples.group(1))
        yield Snippet(f"module {path.stem}", anywhere, tasks=True)
        if windows.strip():
            yield Snippet(f"module {path.stem} (windows)", windows, tasks=True)
    for path in sorted((ROOT / "plugins" / "filter").glob("*.yml")):
        yield Snippet(f"filter {path.stem}", yaml.safe_load(path.read_text(encoding="utf-8"))["EXAMPLES"], tasks=True)


def all_snippets() -> dict[str, tuple[Snippet, str]]:
    found: dict[str, tuple[Snippet, str]] = {}
    for snippet, marker in readme_snippets():
        found[snippet.id] = (snippet, {"": "run", "windows-only": "syntax", "execution-environment": "builder"}[marker])
    for snippet in plugin_snippets():
        found[snippet.id] = (snippet, "syntax" if snippet.id.endswith("(windows)") else "run")
    return found


FOUND = all_snippets()


def test_every_example_is_in_the_table() -> None:
    assert {name: found[1] for name, found in FOUND.items()} == SNIPPETS


def site_text(text: str, tmp: Path) -> str:
    """``text`` with a real site's paths replaced by the test's."""
    for real, here in sorted(PATHS.items(), key=lambda item: -len(item[0])):
        text = text.replace(real, str(tmp / here))
    return text


def as_playbook(snippet: Snippet) -> str:
    if not snippet.tasks:
        return snippet.text
    tasks = "\n".join(f"    {line}" if line else line for line in snippet.text.splitlines())
    return f"- name: {snippet.id}\n  hosts: exchange_servers\n  gather_facts: false\n  tasks:\n{tasks}\n"


def site_variables(tmp: Path) -> dict[str, Any]:
    return yaml.safe_load(site_text(yaml.safe_dump(VARIABLES), tmp))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def site_trust(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keys and a signed catalog of the lab's reference sets, made once (the same versions hold the same bytes in every lab)."""
    tmp = tmp_path_factory.mktemp("trust")
    inventory = lab.build_lab(tmp / "lab", lab_hosts())
    setup = tmp / "trust.yml"
    setup.write_text(site_text(SITE_TRUST, tmp))
    run = playbook(str(setup), inventory, tmp, extra=site_variables(tmp))
    assert run.returncode == 0, run.output[-3000:]
    return tmp / PATHS["/etc/smsmse"]


def lab_hosts() -> list[lab.LabHost]:
    return [
        lab.LabHost("mail01", liveupdate="works"),
        lab.LabHost("mail02", version="6.0.14", liveupdate="works"),
        lab.LabHost("mail03", version="6.5.1", liveupdate="works"),
    ]


@pytest.fixture
def site(tmp_path: Path, site_trust: Path) -> Path:
    """A fresh lab and a copy of the site's keys and catalog; returns the lab's inventory."""
    inventory = lab.build_lab(tmp_path / "lab", lab_hosts())
    shutil.copytree(site_trust, tmp_path / PATHS["/etc/smsmse"])
    (tmp_path / PATHS["/var/lib/smsmse"]).mkdir(parents=True)
    return inventory


def lab_version(index: int) -> str:
    return lab.set_versions(dt.datetime.now(dt.timezone.utc).date(), lab.LabHost("x").sets)[index]


def run_snippet(snippet: Snippet, inventory: Path, tmp: Path, *args: str) -> Run:
    text = site_text(as_playbook(snippet), tmp)
    for real, index in VERSIONS.items():
        text = text.replace(real, lab_version(index))
    path = tmp / "example.yml"
    path.write_text(text, encoding="utf-8")
    return playbook(str(path), inventory, tmp, *args, extra=site_variables(tmp))


def ran_on_hosts(run: Run) -> bool:
    recap = run.output.split("PLAY RECAP", 1)[-1]
    return bool(re.search(r"mail0[123]\s+: ok=[1-9]", recap) or re.search(r"localhost\s+: ok=[1-9]", recap))


# --- what each example does, checked after it ran on the lab (three healthy hosts) ---

HOSTS = ("mail01", "mail02", "mail03")


def today_versions() -> list[str]:
    return lab.set_versions(dt.datetime.now(dt.timezone.utc).date(), lab.LabHost("x").sets)


def lab_active(inventory: Path, host: str, store: str = "csapi") -> str:
    text = (inventory.parent / "hosts" / host / store / "definfo.dat").read_text()
    return next(line.split("=", 1)[1].strip() for line in text.splitlines() if line.startswith("CurDefs="))


def lab_events(inventory: Path, host: str) -> list[int]:
    return [json.loads(line)["id"] for line in (inventory.parent / "hosts" / host / "events.jsonl").read_text().splitlines()]


def recaps(run: Run) -> dict[str, str]:
    return {line.split()[0]: line for line in run.output.splitlines() if " : ok=" in line}


def nothing_changed(run: Run, inventory: Path, tmp: Path) -> None:
    """A healthy lab: every host ends as it was, on the newest set, and the recap says so."""
    assert all("changed=0" in recaps(run)[h] for h in HOSTS), recaps(run)
    assert all(lab_active(inventory, h) == today_versions()[-1] for h in HOSTS)


def options_checked(run: Run, inventory: Path, tmp: Path) -> None:
    """Checked once on the controller: the report folder can be made, but is not made by the check."""
    assert "changed=0" in recaps(run)["mail01"] and "failed=0" in recaps(run)["mail01"]
    assert not (tmp / PATHS["/var/lib/smsmse"] / "reports").exists()


def reported_compliant(run: Run, inventory: Path, tmp: Path) -> None:
    document = json.loads((tmp / PATHS["/var/lib/smsmse"] / "reports" / "defs-health.json").read_text())
    assert sorted(h["name"] for h in document["hosts"]) == list(HOSTS)
    assert document["summary"]["counts"]["compliant"] == 3, document["summary"]


def facts_shown(run: Run, inventory: Path, tmp: Path) -> None:
    newest = today_versions()[-1]
    assert f"mail01 scans with {newest}" in run.output or f"mail01: CSAPI {newest}, newest {newest}, product 6.5.8" in run.output


def catalog_signed(run: Run, inventory: Path, tmp: Path) -> None:
    document = json.loads((tmp / PATHS["/etc/smsmse"] / "catalog.json").read_text())
    assert len(document["signatures"]) == 2 and set(today_versions()) <= set(document["signed"]["sets"])


def verified_against_catalog(run: Run, inventory: Path, tmp: Path) -> None:
    catalog_signed(run, inventory, tmp)
    assert json.loads((tmp / PATHS["/var/lib/smsmse"] / "catalog-state.json").read_text())["sequence"] >= 1


def key_made(run: Run, inventory: Path, tmp: Path) -> None:
    key = tmp / PATHS["/etc/smsmse"] / "keys" / "ops1.key"
    assert key.exists() and key.with_suffix(".key.pub").read_text().strip()


def lab_made(run: Run, inventory: Path, tmp: Path) -> None:
    built = json.loads((tmp / PATHS["/tmp/smsmse-lab"] / "inventory.yml").read_text())
    assert len(built["all"]["children"]["smsmse_lab"]["hosts"]) == 20


def liveupdate_brought_a_set(run: Run, inventory: Path, tmp: Path) -> None:
    brought = lab.liveupdate_version(dt.datetime.now(dt.timezone.utc).date())
    for host in HOSTS:
        assert lab_active(inventory, host, "hawking") == brought, host


def downgraded(run: Run, inventory: Path, tmp: Path) -> None:
    """The last task goes down to the example's version on purpose: CSAPI is there, and event 1002 records it."""
    for host in HOSTS:
        assert lab_active(inventory, host) == today_versions()[-2], host
        assert lab_events(inventory, host)[-1] == 1002, host


def consensus_decided(run: Run, inventory: Path, tmp: Path) -> None:
    assert '"fleet_verification"' in run.output and "CONSENSUS_MINORITY" not in run.output
    nothing_changed(run, inventory, tmp)


def published(run: Run, inventory: Path, tmp: Path) -> None:
    """Every version the catalog lists is a folder of the distribution point, byte for byte the reference set."""
    point, reference = tmp / PATHS["/srv/www/smsmse"], tmp / PATHS["/srv/reference"]
    for version in today_versions():
        files = sorted(p.relative_to(reference / version) for p in (reference / version).rglob("*") if p.is_file())
        assert files, version
        for name in files:
            assert (point / version / name).read_bytes() == (reference / version / name).read_bytes(), (version, name)


def imported_and_promoted(run: Run, inventory: Path, tmp: Path) -> None:
    """The newest catalogued set came into the product's source store and then into CSAPI, on every host."""
    catalog = json.loads((tmp / PATHS["/etc/smsmse"] / "catalog.json").read_text())
    newest = max(catalog["signed"]["sets"])
    for host in HOSTS:
        assert "changed=2" in recaps(run)[host], recaps(run)[host]
        assert lab_active(inventory, host, "smsmse_hawking") == lab_active(inventory, host) == newest, host


#: every example that runs on the lab -> what must be true afterwards (beyond its exit status)
OUTCOMES = {
    "README.md: Where does every mail server stand?": facts_shown,
    "README.md: Sign a catalog of trusted reference sets": verified_against_catalog,
    "README.md: Put the newest good Hawking set into CSAPI, and roll back where CSAPI's set is bad": nothing_changed,
    "README.md: Keep every mail server's definitions healthy": reported_compliant,
    "README.md: Publish a distribution point from the trusted reference sets": published,
    "module defs_agent_posix": nothing_changed,
    "module defs_agent_win": nothing_changed,
    "module defs_agent_win_change": nothing_changed,
    "module defs_agent_win_lab": nothing_changed,
    "module defs_catalog": catalog_signed,
    "module defs_catalog_key": key_made,
    "module defs_facts": facts_shown,
    "module defs_health_check": options_checked,
    "module defs_health_fleet": nothing_changed,
    "module defs_health_host": nothing_changed,
    "module defs_import": imported_and_promoted,
    "module defs_lab": lab_made,
    "module defs_liveupdate": liveupdate_brought_a_set,
    "module defs_promote": downgraded,
    "module defs_report": reported_compliant,
    "module defs_rollback": downgraded,
    "module defs_verify": nothing_changed,
    "filter defs_consensus": consensus_decided,
    "filter defs_consensus_marks": nothing_changed,
}


def test_every_example_that_runs_has_an_outcome() -> None:
    assert sorted(OUTCOMES) == sorted(name for name, how in SNIPPETS.items() if how == "run")


@pytest.mark.parametrize("name", [name for name, how in SNIPPETS.items() if how == "run"])
def test_example_runs_on_the_lab(name: str, site: Path, tmp_path: Path) -> None:
    snippet = FOUND[name][0]
    run = run_snippet(snippet, site, tmp_path)
    assert run.returncode == 0, f"{name}:\n{run.output[-4000:]}"
    assert ran_on_hosts(run), run.output[-2000:]
    OUTCOMES[name](run, site, tmp_path)


@pytest.mark.parametrize("name", [name for name, how in SNIPPETS.items() if how == "syntax"])
def test_windows_example_is_valid_playbook_syntax(name: str, site: Path, tmp_path: Path) -> None:
    run = run_snippet(FOUND[name][0], site, tmp_path, "--syntax-check")
    assert run.returncode == 0, f"{name}:\n{run.output[-3000:]}"


@pytest.mark.parametrize("name", [name for name, how in SNIPPETS.items() if how == "builder"])
def test_execution_environment_example_is_valid(name: str, tmp_path: Path) -> None:
    definition = tmp_path / "execution-environment.yml"
    definition.write_text(FOUND[name][0].text, encoding="utf-8")
    done = subprocess.run(
        [str(BIN / "ansible-builder"), "create", "-f", str(definition), "-c", str(tmp_path / "context")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "mailsec.smsmse" in (tmp_path / "context" / "_build" / "requirements.yml").read_text()


def test_facts_playbook_makes_its_output_folder(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "not" / "yet" / "there"
    run = playbook("mailsec.smsmse.facts", site, tmp_path, extra={"smsmse_facts_dir": str(out)})
    assert run.returncode == 0, run.output[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["mail01.json", "mail02.json", "mail03.json"]


def csapi_active(inventory: Path, host: str) -> str:
    text = (inventory.parent / "hosts" / host / "csapi" / "definfo.dat").read_text()
    return next(line.split("=", 1)[1].strip() for line in text.splitlines() if line.startswith("CurDefs="))


def test_the_consensus_pipeline_runs_as_written_and_keeps_the_fleets_minority_set_out(tmp_path: Path) -> None:
    """The defs_consensus_marks example, as written: its marks go into bad_sets of defs_promote, which then refuses the set.

    mail04's Hawking stores hold the newest set with a changed byte (the same in both, so the source rule sees nothing)
    and its CSAPI is stale: without the fleet's marks, promote would put the changed set into use.
    """
    healthy = [lab.LabHost(f"mail0{i}") for i in (1, 2, 3)]
    inventory = lab.build_lab(tmp_path / "lab", [*healthy, lab.LabHost("mail04", faults=["corrupt_newest", "stale_csapi"])])
    versions = lab.set_versions(dt.datetime.now(dt.timezone.utc).date(), 3)
    run = run_snippet(FOUND["filter defs_consensus_marks"][0], inventory, tmp_path)
    assert run.returncode == 0, run.output[-4000:]
    assert csapi_active(inventory, "mail04") == versions[-2]  # the newest good set the fleet vouches for, not the changed one
    for host in ("mail01", "mail02", "mail03"):
        assert csapi_active(inventory, host) == versions[-1], host
    assert "CONSENSUS_MINORITY" in run.output and "Unsupported parameters" not in run.output
