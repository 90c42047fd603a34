#!/bin/bash
# bench/run-nvme-bench.sh BUILD_DIR [--smoke] [--kernel k2] — fio 4k random read at QD 1
# and QD 32 and 1 MiB sequential read against the kernel's nvmet-tcp target
# in the guest, through the kernel's nvme-tcp initiator and through
# lazyroot's userspace initiator (2 queues each), in the same VM run. TCG
# inflates absolute numbers, so the report is the ratio lazyroot / kernel.
# On a kernel with ublk zero copy (--kernel k2), lazyroot's copy path too.
set -euo pipefail
build=$(cd "${1:?usage: run-nvme-bench.sh BUILD_DIR [--smoke]}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
runtime=10 size=512 kernel=main
shift
while [[ $# -gt 0 ]]; do
    case $1 in
    --smoke) runtime=2 size=64; shift ;;
    --kernel) kernel=$2; shift 2 ;;
    *) echo "run-nvme-bench: unknown argument $1" >&2; exit 2 ;;
    esac
done

work=$build/bench/nvme-compare
rm -rf "$work"
mkdir -p "$work"
"$repo/tests/vm/run-vm.sh" --kernel "$kernel" --mem 3072 --timeout 900 \
    --env LAZYROOT_BUILD_DIR="$build" --env LAZYROOT_SOURCE_DIR="$repo" \
    --env BENCH_RUNTIME=$runtime --env BENCH_SIZE_MB=$size \
    "$here/guest-nvme-compare.sh" "$work" >/dev/null

n=$(wc -l <"$work/results.txt")
[[ $n -eq 9 || $n -eq 12 ]] || { echo "run-nvme-bench: expected 9 or 12 results, got:" >&2; cat "$work/results.txt" >&2; exit 1; }
awk '
    { split($1, p, "."); iops[p[1], p[2]] = $2; bw[p[1], p[2]] = $3; jobs[p[1]] = 1 }
    END {
        copy = (("randread4k_qd1", "copy") in iops)
        printf "| job | kernel nvme-tcp | lazyroot (ublk) | ratio lazyroot/kernel | ublk over the file, no network |%s\n|---|---|---|---|---|%s\n", copy ? " lazyroot, --zero-copy=off (ratio) |" : "", copy ? "---|" : ""
        n = split("randread4k_qd1 randread4k_qd32 seqread1m_qd8", order, " ")
        for (i = 1; i <= n; i++) {
            j = order[i]
            if (j ~ /^rand/)
                printf "| %s | %d IOPS | %d IOPS | %.2f | %d IOPS |", j, iops[j, "kernel"], iops[j, "lazyroot"], iops[j, "lazyroot"] / iops[j, "kernel"], iops[j, "file"]
            else
                printf "| %s | %.1f MB/s | %.1f MB/s | %.2f | %.1f MB/s |", j, bw[j, "kernel"] * 1.024 / 1000, bw[j, "lazyroot"] * 1.024 / 1000, bw[j, "lazyroot"] / bw[j, "kernel"], bw[j, "file"] * 1.024 / 1000
            if (copy && j ~ /^rand/)
                printf " %d IOPS (%.2f) |", iops[j, "copy"], iops[j, "copy"] / iops[j, "kernel"]
            else if (copy)
                printf " %.1f MB/s (%.2f) |", bw[j, "copy"] * 1.024 / 1000, bw[j, "copy"] / bw[j, "kernel"]
            printf "\n"
        }
    }' "$work/results.txt" | tee "$work/report.md"
