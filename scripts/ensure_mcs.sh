#!/usr/bin/env bash
# The C# under plugins/module_utils is compiled in CI with Debian's Mono C# compiler at
# language level 5 (what Windows PowerShell 5.1's Add-Type accepts), and its
# platform-neutral logic runs under mono. Install mono-mcs when mcs is missing and this
# is a Debian machine we are root on; otherwise say so (the C# tests then skip with that reason).
set -euo pipefail
if command -v mcs >/dev/null 2>&1 && command -v mono >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's mono-mcs for the C# compile check ..." >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mono-mcs mono-runtime >/dev/null
else
    echo "mcs is not installed (apt-get install mono-mcs mono-runtime): the C# compile tests will be skipped" >&2
fi
