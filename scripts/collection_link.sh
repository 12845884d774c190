#!/usr/bin/env bash
# Make the working tree visible to Ansible as the collection mailsec.smsmse:
# .build/collections/ansible_collections/mailsec/smsmse -> the repository root.
# Prints the collections path, for ANSIBLE_COLLECTIONS_PATH.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
parent="$root/.build/collections/ansible_collections/mailsec"
mkdir -p "$parent"
ln -sfn ../../../.. "$parent/smsmse"
echo "$root/.build/collections"
