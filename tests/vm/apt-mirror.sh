#!/bin/bash
# Prints the Debian mirror this machine's own apt sources use (the URI of its
# first Debian entry), so that no mirror host is written into the repository.
# Fails with one line when there is none.
set -euo pipefail
uri=""
if [[ -e /etc/apt/sources.list.d/debian.sources ]]; then
    uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
if [[ -z $uri && -e /etc/apt/sources.list ]]; then
    uri=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)
fi
if [[ -z $uri ]]; then
    echo "apt-mirror.sh: no Debian mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list" >&2
    exit 1
fi
echo "$uri"
