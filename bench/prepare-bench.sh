#!/bin/bash
# bench/prepare-bench.sh BUILD_DIR [SIZE_MIB] [ROUNDS] — `lazyroot prepare`
# against `veritysetup format` on the same random image (1 GiB by default) with
# the same salt, on the host: no VM, both just read a file and hash it. The
# image is read once first, so everything hashes from the page cache. Each
# round runs every command once, interleaved so background load hits them
# alike; the best time of ROUNDS (5) counts. Prints a markdown table; GB = 10^9 bytes.
set -euo pipefail
build=$(cd "${1:?usage: prepare-bench.sh BUILD_DIR [SIZE_MIB] [ROUNDS]}" && pwd)
size_mib=${2:-1024}
rounds=${3:-5}
lazyroot=$build/cli/lazyroot
[[ -x $lazyroot ]] || { echo "prepare-bench: no $lazyroot (build first)" >&2; exit 1; }
command -v veritysetup >/dev/null || { echo "prepare-bench: veritysetup not found (cryptsetup-bin)" >&2; exit 1; }

work=$build/bench/prepare-bench
rm -rf "$work"
mkdir -p "$work"
trap 'rm -f "$work"/img* "$work"/*.hash' EXIT
bytes=$((size_mib << 20))
head -c $bytes /dev/urandom >"$work/img"
cp "$work/img" "$work/img-append"  # gets the tree appended; the other stays pure data
cat "$work/img" "$work/img-append" >/dev/null
salt=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')

names=(vs lr lr1 lra)
declare -A label=(
    [vs]="veritysetup format (hash file)"
    [lr]="lazyroot prepare --hash-out"
    [lr1]="lazyroot prepare --hash-out, 1 CPU (taskset -c 0)"
    [lra]="lazyroot prepare (tree appended, synced)"
)
run() {
    case $1 in
    vs) veritysetup format --salt="$salt" --data-block-size=4096 --hash-block-size=4096 \
            "$work/img" "$work/vs.hash" | awk '/Root hash:/ { print $3 }' ;;
    lr) "$lazyroot" prepare "$work/img" --salt "$salt" --hash-out "$work/lr.hash" ;;
    lr1) taskset -c 0 "$lazyroot" prepare "$work/img" --salt "$salt" --hash-out "$work/lr.hash" ;;
    # Reruns find the tree of the first run through the manifest and replace it.
    lra) "$lazyroot" prepare "$work/img-append" --salt "$salt" ;;
    esac
}

declare -A best root
for ((r = 0; r < rounds; r++)); do
    for n in "${names[@]}"; do
        t0=$(date +%s%N)
        root[$n]=$(run "$n" 2>"$work/err") || { cat "$work/err" >&2; exit 1; }
        t=$((($(date +%s%N) - t0) / 1000))
        [[ -z ${best[$n]:-} || $t -lt ${best[$n]} ]] && best[$n]=$t
    done
done
for n in "${names[@]}"; do
    [[ ${root[$n]} == "${root[vs]}" ]] || {
        echo "prepare-bench: ${label[$n]}: root hash ${root[$n]}, veritysetup's ${root[vs]}" >&2
        exit 1
    }
done

{
    echo "| $size_mib MiB image, $(nproc) CPUs, best of $rounds | time | throughput | speed-up vs veritysetup |"
    echo "|---|---|---|---|"
    for n in "${names[@]}"; do
        awk -v n="${label[$n]}" -v us="${best[$n]}" -v b="$bytes" -v base="${best[vs]}" \
            'BEGIN { printf "| %s | %.3f s | %.2f GB/s | %.2f |\n", n, us / 1e6, b / (us / 1e6) / 1e9, base / us }'
    done
} | tee "$work/report.md"
