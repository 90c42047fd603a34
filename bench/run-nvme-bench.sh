#!/bin/bash
# bench/run-nvme-bench.sh BUILD_DIR [--smoke] — fio 4k random read at QD 1
# and QD 32 and 1 MiB sequential read against the kernel's nvmet-tcp target
# in the guest, through the kernel's nvme-tcp initiator and through
# lazyroot's userspace initiator (2 queues each), in the same VM run. TCG
# inflates absolute numbers, so the report is the ratio lazyroot / kernel.
set -euo pipefail
build=$(cd "${1:?usage: run-nvme-bench.sh BUILD_DIR [--smoke]}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
runtime=10 size=512
if [[ ${2:-} == --smoke ]]; then runtime=2 size=64; fi

work=$build/bench/nvme-compare
rm -rf "$work"
mkdir -p "$work"
"$repo/tests/vm/run-vm.sh" --mem 3072 --timeout 900 \
    --env LAZYROOT_BUILD_DIR="$build" --env LAZYROOT_SOURCE_DIR="$repo" \
    --env BENCH_RUNTIME=$runtime --env BENCH_SIZE_MB=$size \
    "$here/guest-nvme-compare.sh" "$work" >/dev/null

[[ $(wc -l <"$work/results.txt") -eq 9 ]] || { echo "run-nvme-bench: expected 9 results, got:" >&2; cat "$work/results.txt" >&2; exit 1; }
awk '
    { split($1, p, "."); iops[p[1], p[2]] = $2; bw[p[1], p[2]] = $3; jobs[p[1]] = 1 }
    END {
        printf "| job | kernel nvme-tcp | lazyroot (ublk) | ratio lazyroot/kernel | ublk over the file, no network |\n|---|---|---|---|---|\n"
        n = split("randread4k_qd1 randread4k_qd32 seqread1m_qd8", order, " ")
        for (i = 1; i <= n; i++) {
            j = order[i]
            if (j ~ /^rand/)
                printf "| %s | %d IOPS | %d IOPS | %.2f | %d IOPS |\n", j, iops[j, "kernel"], iops[j, "lazyroot"], iops[j, "lazyroot"] / iops[j, "kernel"], iops[j, "file"]
            else
                printf "| %s | %.1f MB/s | %.1f MB/s | %.2f | %.1f MB/s |\n", j, bw[j, "kernel"] * 1.024 / 1000, bw[j, "lazyroot"] * 1.024 / 1000, bw[j, "lazyroot"] / bw[j, "kernel"], bw[j, "file"] * 1.024 / 1000
        }
    }' "$work/results.txt" | tee "$work/report.md"
