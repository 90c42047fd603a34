#!/bin/bash
# Issue 18's figures, in one run: the Debian test root booted lazily and cold
# with dm-verity from root.img and from root.img.zst (`prepare --compress`),
# over one link shaped on the host side (tests/vm/boot/delay-proxy.py: 20 ms
# RTT, 100 Mbit/s shared by all connections, by default). Reports nginx's
# bytes on the wire and the times to the root mounted and to the marker, for
# each, and libzstd's decompression rate on one host core (`zstd -t` of
# root.img.zst: MB/s of image bytes out) against the link's rate.
#   bench/run-compress-bench.sh BUILD_DIR [--delay-ms N] [--rate-mbit N]
set -euo pipefail
build=$(realpath "${1:?usage: run-compress-bench.sh BUILD_DIR [--delay-ms N] [--rate-mbit N]}")
shift
delay=10 rate=100
while [[ $# -gt 0 ]]; do
    case $1 in
    --delay-ms) delay=$2; shift 2 ;;
    --rate-mbit) rate=$2; shift 2 ;;
    *) echo "run-compress-bench: unknown argument $1" >&2; exit 2 ;;
    esac
done
repo=$(cd "$(dirname "$0")/.." && pwd)
"$repo/tests/vm/boot/make-boot-image.sh" "$build" >&2
www=$build/vm/boot/www
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for m in verity compressed; do
    echo "booting: $m" >&2
    # A shaped boot on a loaded host can take more than the tests' 600 s.
    LAZYROOT_BOOT_TIMEOUT=${LAZYROOT_BOOT_TIMEOUT:-1500} \
        LAZYROOT_BOOT_DELAY_MS=$delay LAZYROOT_BOOT_RATE_MBIT=$rate "$repo/tests/vm/boot/boot-test.sh" "$m" "$build" 2>&1 |
        tee -a "$out" | grep -E "^boot-(test|qemu)" >&2 || true
done
# One core: zstd decompresses frame after frame on one thread (lazyroot's
# decode pool runs one frame per thread, through the same libzstd).
start=$(date +%s.%N)
zstd -t -q "$www/root.img.zst"
end=$(date +%s.%N)
python3 - "$out" "$delay" "$rate" "$start" "$end" "$(stat -c %s "$www/root.img")" \
    "$(stat -c %s "$www/root.img.zst")" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import re, sys
out, delay, rate, t0, t1, raw, zst, ncpu, load = sys.argv[1:]
raw, zst, rate = int(raw), int(zst), float(rate)
big = 96 << 20  # /srv/big.bin: random bytes, incompressible on purpose
rows = {}
for line in open(out):
    m = re.match(r"boot-test: (\w+)/\w+: LAZYROOT_BOOT_MARKER .*root_mounted_s=([\d.]+) marker_s=([\d.]+); "
                 r"fetched .*; (\d+) bytes", line)
    if m:
        rows[m[1]] = (float(m[2]), float(m[3]), int(m[4]))
if set(rows) != {"verity", "compressed"}:
    sys.exit(f"run-compress-bench: a boot failed (got {sorted(rows)}); see above")
(vr, vm, vb), (cr, cm, cb) = rows["verity"], rows["compressed"]
mib = lambda b: f"{b / 2**20:.1f}"
dec = raw / (float(t1) - float(t0)) / 1e6
link = rate / 8 if rate else float("nan")
print(f"qemu TCG, {2 * int(delay)} ms RTT, {rate:g} Mbit/s shared link (host side); host load {load} on {ncpu} cores")
print(f"root.img {mib(raw)} MiB (tree included), root.img.zst {mib(zst)} MiB ({zst / raw:.2f}x)")
print("| cold lazy boot, dm-verity | root.img | root.img.zst | zst / raw |")
print("|---|---|---|---|")
print(f"| MiB on the wire (nginx) | {mib(vb)} | {mib(cb)} | **{cb / vb:.2f}** |")
print(f"| same, less the 96 MiB random file | {mib(vb - big)} | {mib(cb - big)} | {(cb - big) / (vb - big):.2f} |")
print(f"| root mounted (s) | {vr:.1f} | {cr:.1f} | {cr / vr:.2f} |")
print(f"| marker (s) | {vm:.1f} | {cm:.1f} | **{cm / vm:.2f}** |")
print(f"decompression, one host core (zstd -t): {dec:.0f} MB/s of image; the link carries {link:.1f} MB/s: "
      f"{dec / link:.0f}x the link" if rate else f"decompression, one host core: {dec:.0f} MB/s of image")
PY
