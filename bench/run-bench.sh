#!/bin/bash
# bench/run-bench.sh BUILD_DIR [--smoke] — fio 4k random read at QD 32 and 1 MiB
# sequential read through lazyroot's ublk device (file source; zero copy where
# the kernel offers it, and the copy path beside it) and through the kernel
# loop device on the same file, in the same VM run. TCG inflates absolute
# numbers, so the report is the ratio lazyroot / loop.
# LAZYROOT_VM_KERNEL=k2 runs it on the second guest kernel (run-vm.sh --kernel k2).
set -euo pipefail
build=$(cd "${1:?usage: run-bench.sh BUILD_DIR [--smoke]}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
runtime=15 size=512
if [[ ${2:-} == --smoke ]]; then runtime=2 size=64; fi

kernel=${LAZYROOT_VM_KERNEL:-main}
work=$build/bench/fio-compare
[[ $kernel == main ]] || work+=-$kernel
rm -rf "$work"
mkdir -p "$work"
"$repo/tests/vm/run-vm.sh" --kernel "$kernel" --mem 3072 --timeout 900 \
    --env LAZYROOT_BUILD_DIR="$build" --env BENCH_RUNTIME=$runtime --env BENCH_SIZE_MB=$size \
    "$here/guest-fio-compare.sh" "$work" >/dev/null

[[ $(wc -l <"$work/results.txt") -eq 6 ]] || { echo "run-bench: expected 6 results, got:" >&2; cat "$work/results.txt" >&2; exit 1; }
echo "guest kernel $(cat "$work/kver"); ublk zero copy in use: $(cat "$work/zero_copy")" | tee "$work/report.md"
awk '
    { split($1, p, "."); iops[p[1], p[2]] = $2; bw[p[1], p[2]] = $3; jobs[p[1]] = 1 }
    END {
        printf "| job | loop | lazyroot (ublk) | lazyroot, --zero-copy=off | ratio ublk/loop | ratio copy path/loop |\n|---|---|---|---|---|---|\n"
        for (j in jobs) {
            if (j ~ /^rand/)
                printf "| %s | %d IOPS | %d IOPS | %d IOPS | %.2f | %.2f |\n", j, iops[j, "loop"], iops[j, "ublk"], iops[j, "copy"],
                    iops[j, "ublk"] / iops[j, "loop"], iops[j, "copy"] / iops[j, "loop"]
            else
                printf "| %s | %.1f MB/s | %.1f MB/s | %.1f MB/s | %.2f | %.2f |\n", j, bw[j, "loop"] * 1.024 / 1000,
                    bw[j, "ublk"] * 1.024 / 1000, bw[j, "copy"] * 1.024 / 1000, bw[j, "ublk"] / bw[j, "loop"], bw[j, "copy"] / bw[j, "loop"]
        }
    }' "$work/results.txt" | tee -a "$work/report.md"
