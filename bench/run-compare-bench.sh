#!/bin/bash
# bench/run-compare-bench.sh BUILD_DIR [--smoke] — one table of every system
# on the same 256 MiB ext4 image and link, one VM run per guest kernel (6.12,
# and the second kernel when it is fetched): lazyroot (file, HTTP cold, HTTP
# warm through the cache, after the hand-off, NVMe/TCP), nbdkit's curl plugin
# over NBD (with its readahead and cache filters; with the cache filter; alone
# over 8 NBD connections), the kernel's nvme-tcp initiator, the loop device,
# curl with one stream and with 4 ranges (bench/guest-compare-all.sh).
# Writes BUILD_DIR/bench/compare/report.{md,json} and compare.png (gnuplot).
# BENCH_RTT_MS adds netem delay to the guest's link (default 0); BENCH_KERNELS
# names the guest kernels to run (default: main, and k2 when fetched).
set -euo pipefail
build=$(cd "${1:?usage: run-compare-bench.sh BUILD_DIR [--smoke]}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
env=(--env "BENCH_RUNTIME=10" --env "BENCH_RTT_MS=${BENCH_RTT_MS:-0}")
[[ ${2:-} == --smoke ]] && env=(--env BENCH_RUNTIME=1 --env BENCH_RTT_MS=0)
kernels=(main)
[[ -s $build/vm/kernel-k2/kver && ${2:-} != --smoke ]] && kernels+=(k2)
# BENCH_KERNELS="main" (or "k2"): only those guest kernels.
[[ -z ${BENCH_KERNELS:-} ]] || read -r -a kernels <<<"$BENCH_KERNELS"
"$repo/tests/vm/make-test-images.sh" "$build/vmtests/images"
out=$build/bench/compare
rm -rf "$out"
mkdir -p "$out"
results=() names=()
for k in "${kernels[@]}"; do
    work=$out/$k
    mkdir -p "$work"
    NGINX_ROOT=$build/vmtests/images LAZYROOT_VM_WORKDIR=$work \
        "$repo/tests/vm/nginx-host.sh" "$repo/tests/vm/run-vm.sh" --kernel "$k" --mem 3072 --timeout 2400 \
        --env LAZYROOT_BUILD_DIR="$build" --env LAZYROOT_SOURCE_DIR="$repo" "${env[@]}" \
        "$here/guest-compare-all.sh" "$work" >/dev/null
    grep -q '^cmp ' "$work/results.txt" || { echo "run-compare-bench: no results on $k" >&2; exit 1; }
    results+=("$work/results.txt")
    names+=("$(cat "$work/kver")")
done
python3 "$here/compare-report.py" "$(IFS=,; echo "${results[*]}")" "$out" "${names[@]}"
gnuplot -e "dat='$out/compare.dat'; out='$out/compare.png'; kernels='${names[*]}'" "$here/compare.gp"
echo "chart: $out/compare.png"
