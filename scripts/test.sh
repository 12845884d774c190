#!/usr/bin/env bash
# The project's whole test run (what `make test` and CI run):
#   primary (ansible-core 2.21 on Python 3.13 or 3.12): ruff, mypy, the Any share, changelog lint, ansible-lint
#     (production profile), ansible-doc on every module and filter, pytest (unit and integration),
#     ansible-test sanity;
#   compat (ansible-core 2.19 on Python 3.11): pytest (unit and integration) again;
#   2.18 (the minimum in meta/runtime.yml, on Python 3.11) and 2.20 (on Python 3.12): pytest on the
#     unit tests and tests/integration/test_examples.py (every documented example), within CI's budget.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

step() { printf '\n== %s\n' "$*"; }

primary=$(scripts/venv.sh primary)
compat=$(scripts/venv.sh compat)
oldest=$(scripts/venv.sh 2.18)
between=$(scripts/venv.sh 2.20)
scripts/collection_link.sh >/dev/null
scripts/ensure_chromium.sh
scripts/ensure_mcs.sh
scripts/ensure_nginx.sh
export ANSIBLE_COLLECTIONS_PATH="$root/.build/collections"

step "ruff (lint and format)"
"$primary/bin/ruff" check .
"$primary/bin/ruff" format --check .

step "mypy"
"$primary/bin/mypy" -p ansible_collections.mailsec.smsmse

step "the controller's parameters that let Any through (a ceiling: lower it as types arrive)"
"$primary/bin/python" scripts/any_share.py --max 1

step "changelog fragments"
"$primary/bin/antsibull-changelog" lint

step "ansible-lint (production profile)"
PATH="$primary/bin:$PATH" "$primary/bin/ansible-lint" --offline --profile production roles playbooks tests/integration/playbooks

step "ansible-doc on every module and filter"
for doc in plugins/modules/*.py; do
    name=$(basename "$doc" .py)
    "$primary/bin/ansible-doc" -t module "mailsec.smsmse.$name" >/dev/null
    echo "ok mailsec.smsmse.$name"
done
for doc in plugins/filter/*.yml; do
    name=$(basename "$doc" .yml)
    "$primary/bin/ansible-doc" -t filter "mailsec.smsmse.$name" >/dev/null
    echo "ok filter mailsec.smsmse.$name"
done

step "pytest on $("$primary/bin/ansible" --version | head -n 1) with $("$primary/bin/python" --version)"
"$primary/bin/python" -m pytest -p no:cacheprovider -q tests

step "ansible-test sanity"
scripts/sanity.sh

step "pytest on $("$compat/bin/ansible" --version | head -n 1) with $("$compat/bin/python" --version)"
"$compat/bin/python" -m pytest -p no:cacheprovider -q tests

for venv in "$oldest" "$between"; do
    step "pytest (unit, examples) on $("$venv/bin/ansible" --version | head -n 1) with $("$venv/bin/python" --version)"
    "$venv/bin/python" -m pytest -p no:cacheprovider -q tests/unit tests/integration/test_examples.py
done
