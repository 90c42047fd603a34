#!/bin/bash
# bench/print-rss.sh RESULTS — the "rss ..." lines of guest-rss.sh, as read by a person.
awk '
    function v(k,   i, a) { for (i = 2; i <= NF; i++) { split($i, a, "="); if (a[1] == k) return a[2] } }
    /^rss / {
        printf "daemon peak RSS (VmHWM) at QD128, 4 queues, cold sequential (%s MiB, cache %s%s): %.1f MiB, %s MB/s\n",
            v("mib"), v("cache"), v("build") == "baseline" ? ", baseline build" : "", v("peak_rss_kib") / 1024, v("seq_MBps")
    }' "${1:?usage: print-rss.sh RESULTS}"
