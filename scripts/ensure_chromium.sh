#!/usr/bin/env bash
# The HTML report is tested in headless Chromium (Debian's package). Install it when
# it is missing and this is a Debian machine we are root on; otherwise say so (the
# browser test then skips with that reason).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's chromium for the HTML report test ..." >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
    echo "chromium is not installed (apt-get install chromium): the HTML report test will be skipped" >&2
fi
