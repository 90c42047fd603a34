#!/bin/bash
# Guest half of bench/run-rss-bench.sh: only the peak-RSS runs of guest-rss.sh.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
guest_up
: >results.txt
. "$LAZYROOT_SOURCE_DIR/bench/guest-rss.sh"
