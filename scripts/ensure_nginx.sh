#!/usr/bin/env bash
# The distribution point tests and bench/distpoint.py serve sets over HTTPS from Debian's nginx, started on 127.0.0.1
# by the tests themselves. Install nginx-light when nginx is missing and this is a Debian machine we are root on,
# without letting the package start its own server (a policy-rc.d that refuses, for the install only); otherwise say
# so (those tests then skip with that reason).
set -euo pipefail
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's nginx-light for the distribution point tests ..." >&2
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 0755 "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
else
    echo "nginx is not installed (apt-get install nginx-light): the HTTPS distribution point tests will be skipped" >&2
fi
