#!/usr/bin/env bash
# Create (or reuse) a virtual environment for one of the project's test targets
# and print its path on stdout.
#
#   scripts/venv.sh primary   Python 3.13 or 3.12 with ansible-core 2.21.x
#                              (falls back to Python 3.11 with ansible-core 2.19.x)
#   scripts/venv.sh compat    Python 3.11 with ansible-core 2.19.x
#   scripts/venv.sh 2.18      Python 3.11 with ansible-core 2.18.x (the minimum in meta/runtime.yml)
#   scripts/venv.sh 2.20      Python 3.12 (or 3.13) with ansible-core 2.20.x
#
# A Python is looked for on PATH and, where pyenv is installed, among pyenv's
# versions (by full path: pyenv's shims refuse versions that are not selected).
# Set SMSMSE_PYTHON to a Python executable to choose one yourself.
set -euo pipefail

target=${1:?usage: scripts/venv.sh primary|compat|2.18|2.20}
root=$(cd "$(dirname "$0")/.." && pwd)

usable() {  # usable PYTHON MINOR: is PYTHON a working 3.MINOR with venv?
    "$1" -c "import sys, venv, ensurepip; sys.exit(0 if sys.version_info[:2] == (3, $2) else 1)" >/dev/null 2>&1
}

find_python() {  # find_python MINOR: print a usable python3.MINOR, or fail
    local minor=$1 candidate
    local candidates=("python3.$minor")
    if command -v pyenv >/dev/null 2>&1; then
        local pyenv_root
        pyenv_root=$(pyenv root 2>/dev/null || true)
        if [ -n "$pyenv_root" ]; then
            for candidate in "$pyenv_root"/versions/3."$minor".*/bin/python3."$minor"; do
                candidates+=("$candidate")
            done
        fi
    fi
    candidates+=("/usr/bin/python3.$minor" "/usr/local/bin/python3.$minor" "python3")
    for candidate in "${candidates[@]}"; do
        if command -v "$candidate" >/dev/null 2>&1 && usable "$candidate" "$minor"; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

python=""
case "$target" in
    primary)
        if [ -n "${SMSMSE_PYTHON:-}" ]; then
            python=$SMSMSE_PYTHON
        else
            python=$(find_python 13 || find_python 12 || find_python 11 || true)
        fi
        ;;
    compat | 2.18)
        python=$(find_python 11 || true)
        ;;
    2.20)
        python=$(find_python 12 || find_python 13 || true)
        ;;
    *)
        echo "scripts/venv.sh: unknown target '$target' (use primary, compat, 2.18 or 2.20)" >&2
        exit 2
        ;;
esac

if [ -z "$python" ]; then
    case "$target" in
        primary) need="Python 3.13, 3.12 or 3.11" ;;
        compat | 2.18) need="Python 3.11" ;;
        2.20) need="Python 3.12 or 3.13" ;;
    esac
    cat >&2 <<MSG
No suitable Python found for the $target environment: it needs $need with the
venv and ensurepip modules (Debian: apt-get install python3-venv), on PATH as
python3.N or installed with pyenv. Set SMSMSE_PYTHON=/path/to/python3 to choose one.
MSG
    exit 1
fi

minor=$("$python" -c 'import sys; print(sys.version_info[1])')
case "$target" in
    2.18) core='ansible-core>=2.18.0,<2.19' ;;
    2.20) core='ansible-core>=2.20.0,<2.21' ;;
    *) if [ "$minor" -ge 12 ]; then core='ansible-core>=2.21.0,<2.22'; else core='ansible-core>=2.19.0,<2.20'; fi ;;
esac

venv="$root/.venv-$target"
stamp="$venv/.smsmse-stamp"
want=$(cat "$root/requirements.txt" "$root/requirements-dev.txt" | sha256sum | cut -c1-16)
want="$python $core $want"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "$venv"
    exit 0
fi

echo "Setting up $venv with $("$python" --version) and $core ..." >&2
rm -rf "$venv"
log="$root/.build/venv-$target.log"
mkdir -p "$root/.build"
if ! { "$python" -m venv "$venv" &&
    "$venv/bin/python" -m pip install --upgrade pip &&
    "$venv/bin/python" -m pip install "$core" -r "$root/requirements-dev.txt"; } >"$log" 2>&1; then
    grep -v "is neither a file nor a directory" "$log" | tail -n 25 >&2
    echo "scripts/venv.sh: installing the $target environment failed; the whole log is $log" >&2
    exit 1
fi
echo "$want" >"$stamp"
echo "$venv"
