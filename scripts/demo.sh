#!/usr/bin/env bash
# The demo: build a lab of emulated SMSMSE servers, then run the defs_health role on it:
# report mode, enforce mode, and report mode again. The role prints the fleet table itself.
#   scripts/demo.sh [HOSTS]     (default 20 hosts; the lab is .build/demo-lab)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
hosts=${1:-20}

venv=$(scripts/venv.sh primary)
export ANSIBLE_COLLECTIONS_PATH
ANSIBLE_COLLECTIONS_PATH=$(scripts/collection_link.sh)
export ANSIBLE_CALLBACK_RESULT_FORMAT=yaml ANSIBLE_DISPLAY_SKIPPED_HOSTS=false

lab="$root/.build/demo-lab"
rm -rf "$lab"
banner() { printf '\n==== %s\n\n' "$*"; }

# every 4th host is served by the Windows agent's C# engine under Mono (installed here when root on Debian)
scripts/ensure_mcs.sh || true
windows_every=4
agents="every 4th served by the Windows agent's engine under Mono, the others by the POSIX agent"
if ! command -v mcs >/dev/null 2>&1 || ! command -v mono >/dev/null 2>&1; then
  windows_every=0
  agents="all served by the POSIX agent: Mono is not installed"
  echo "Mono (mcs, mono) is not installed: every lab host runs the POSIX agent." >&2
  echo "For a mixed fleet, install Debian's mono-mcs and mono-runtime (scripts/ensure_mcs.sh does it as root)." >&2
fi

banner "Building a lab of $hosts emulated servers ($agents), a signing key and a signed catalog in $lab"
"$venv/bin/ansible-playbook" mailsec.smsmse.lab -e "lab_dir=$lab" -e "lab_hosts=$hosts" -e "lab_windows_every=$windows_every"
inventory="$lab/inventory.yml"
# The lab's reference sets, laid out as a distribution point (one folder per version, proven by the lab's catalog):
# a host whose LiveUpdate cannot reach its server gets a good set from there.
sources=$(printf '{"defs_health_sources": ["liveupdate", "%s/reference"]}' "$lab")

banner "1/3 Report mode: what is wrong, changing nothing"
"$venv/bin/ansible-playbook" mailsec.smsmse.report -i "$inventory" -e "$sources"

banner "2/3 Enforce mode: promote, roll back, LiveUpdate or the local distribution point; hosts that stay broken fail with the runbook"
"$venv/bin/ansible-playbook" mailsec.smsmse.enforce -i "$inventory" -e "$sources" || echo "(some hosts could not be made healthy: see above)"

banner "3/3 Report mode again, as a nightly job that goes red on drift"
"$venv/bin/ansible-playbook" mailsec.smsmse.report -i "$inventory" -e "$sources" -e defs_health_fail_on=drift ||
  echo "(the job is red: the hosts above drift)"

banner "Reports"
echo "HTML:  $lab/reports/defs-health.html"
echo "JSON:  $lab/reports/defs-health.json"
echo "JUnit: $lab/reports/defs-health.junit.xml"
