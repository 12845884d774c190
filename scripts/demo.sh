#!/usr/bin/env bash
# The demo: build a lab of emulated SMSMSE servers and report their definitions.
#   scripts/demo.sh [HOSTS]     (default 8 hosts; the lab is .build/demo-lab)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
hosts=${1:-8}

venv=$(scripts/venv.sh primary)
export ANSIBLE_COLLECTIONS_PATH
ANSIBLE_COLLECTIONS_PATH=$(scripts/collection_link.sh)

lab="$root/.build/demo-lab"
rm -rf "$lab"
echo "Building a lab of $hosts emulated servers in $lab ..."
inventory=$("$venv/bin/python" scripts/lab.py --dir "$lab" --hosts "$hosts")

echo "Running mailsec.smsmse.facts against it ..."
mkdir -p "$lab/facts"
"$venv/bin/ansible-playbook" mailsec.smsmse.facts -i "$inventory" -e "smsmse_facts_dir=$lab/facts"

printf '\nDefinition state of every lab host (active set per store):\n\n'
"$venv/bin/python" scripts/facts_table.py "$lab/facts"
