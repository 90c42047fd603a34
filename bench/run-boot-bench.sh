#!/bin/bash
# Time from kernel start to the root mounted and to the booted root's marker,
# for lazyroot's boots and the same image as a local virtio disk, in one run.
#   bench/run-boot-bench.sh BUILD_DIR [--delay-ms N] [--rate-mbit N] [--modes "local lazy cache full profile"]
# (profile: a boot recording a profile, then a cold cache replaying it; the
# table then also reports issue 16's goals against the local-disk boot.)
# --delay-ms: N ms each way between the guest and nginx (default 10, a 20 ms
# round trip), added on the host because the initrd has no netem; --rate-mbit:
# a cap on that link (default none). LAZYROOT_BOOT_OPTS=OPTS adds rd.lazyroot=
# options to the lazy boot and the cache mode's first boot (e.g. readahead=0).
# The lazy boot ends with a probe of the rig's own link (32 MiB over 1 and 4
# plain HTTP connections), reported with the floor it puts under each boot.
# Writes BUILD_DIR/bench/boot/report.{md,json} and boot.png, the time to the
# root and to the marker per boot mode (gnuplot, bench/boot.gp).
set -euo pipefail
build=$(realpath "${1:?usage: run-boot-bench.sh BUILD_DIR [--delay-ms N] [--rate-mbit N] [--modes LIST]}")
shift
delay=10 rate=0 modes="local lazy cache full profile"
while [[ $# -gt 0 ]]; do
    case $1 in
    --delay-ms) delay=$2; shift 2 ;;
    --rate-mbit) rate=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    *) echo "run-boot-bench: unknown argument $1" >&2; exit 2 ;;
    esac
done
repo=$(cd "$(dirname "$0")/.." && pwd)
"$repo/tests/vm/boot/make-boot-image.sh" "$build" >&2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for m in $modes; do
    echo "booting: $m" >&2
    # A failed check is reported, and the other boots still run.
    LAZYROOT_BOOT_BENCH=1 LAZYROOT_BOOT_DELAY_MS=$delay LAZYROOT_BOOT_RATE_MBIT=$rate \
        "$repo/tests/vm/boot/boot-test.sh" "$m" "$build" 2>&1 |
        tee -a "$out" | grep -E "^boot-(test|qemu)" >&2 || true
done
accel=$(grep -m1 -o "boot-qemu: [A-Z]*" "$out" | cut -d' ' -f2)
report=$build/bench/boot
mkdir -p "$report"
python3 - "$out" "$delay" "$accel" "$rate" "$report" <<'PY' | tee "$report/report.md"
import json, re, sys
rows = []
link = {}
for line in open(sys.argv[1]):
    m = re.match(r"boot-test: \S+: LAZYROOT_LINK connections=(\d+) bytes=(\d+) secs=([\d.]+)", line)
    if m:
        link[int(m[1])] = int(m[2]) / max(float(m[3]), 0.01)
    m = re.match(r"boot-test: (\S+): LAZYROOT_BOOT_MARKER .*root_mounted_s=([\d.]+) marker_s=([\d.]+); "
                 r"fetched (\d+) of (\d+) MiB \(([\d.]+) %\); \d+ bytes"
                 r"(?:; read before the file (\d+) bytes)?(?:; outside the file (\d+) bytes)?", line)
    if m:
        rows.append((m[1], float(m[2]), float(m[3]), int(m[4]), int(m[5]), m[6],
                     int(m[7]) if m[7] else None, int(m[8]) if m[8] else None))
names = {"local/local": "local virtio disk (baseline)", "lazy/lazy": "lazy, cold",
         "cache/first": "lazy + cache, cold", "cache/second": "lazy + cache, warm",
         "full/full": "full download", "verity/verity": "lazy + dm-verity",
         "nvme/nvme": "lazy over NVMe/TCP", "compressed/compressed": "lazy + dm-verity, root.img.zst",
         "profile/record": "lazy, cold, recording a profile",
         "profile/replay": "lazy + cache, cold, with the profile"}
base = next((r for r in rows if r[0] == "local/local"), None)
mib = lambda b: "-" if b is None else f"{b / 2**20:.1f}"
cap = f", capped at {sys.argv[4]} Mbit/s" if sys.argv[4] != "0" else ""
print(f"qemu {sys.argv[3]}, {2 * int(sys.argv[2])} ms RTT to nginx{cap} (host side)")
print("| boot | root mounted (s) | marker (s) | marker vs local disk | fetched MiB of image "
      "| read before the file (MiB) | fetched outside the file (MiB) |")
print("|---|---|---|---|---|---|---|")
for name, root, marker, fetched, size, pct, read, outside in rows:
    ratio = f"{marker / base[2]:.2f}" if base else "-"
    fetched_s = "-" if name in ("local/local", "nvme/nvme") else f"{fetched} of {size} ({pct} %)"
    print(f"| {names.get(name, name)} | {root:.1f} | {marker:.1f} | {ratio} | {fetched_s} | {mib(read)} | {mib(outside)} |")
# Issue 16's goals, from the rows above. W: what the local-disk boot read of
# its disk before the file the check reads on purpose.
w = base[6] if base and base[6] else None
def row(n):
    return next((r for r in rows if r[0] == n), None)
if w:
    print(f"\nW (working set: the local-disk boot's reads before the file): {w / 2**20:.1f} MiB")
    for n in ("lazy/lazy", "profile/record"):
        r = row(n)
        if r and r[7] is not None:
            print(f"{names[n]}: fetched outside the file {r[7] / w:.2f}x W (goal <= 1.25)")
if link:
    # What the rig's own path to nginx (slirp + the delay proxy) carries: the
    # floor under any lazy boot is the local boot plus its bytes at this rate.
    print("\nlink probe after the lazy boot: " + ", ".join(f"{n} connection(s) {r / 1e6:.1f} MB/s" for n, r in sorted(link.items())))
    best = max(link.values())
    if base:
        for r in rows:
            if r[0] not in ("local/local", "nvme/nvme"):
                floor = base[2] + r[3] * 2**20 / best
                print(f"{names.get(r[0], r[0])}: marker {r[2]:.1f} s; local + its {r[3]} MiB at the link's rate = {floor:.1f} s "
                      f"({floor / base[2]:.2f}x local), so the boot is {r[2] / floor:.2f}x that floor")
if base:
    for n, goal in (("profile/replay", "<= 1.1 at 20 ms RTT, <= 1.5 at 200 ms"), ("cache/first", "<= 1.2")):
        r = row(n)
        if r:
            print(f"{names[n]}: marker {r[2] / base[2]:.2f}x the local-disk boot (goal {goal})")
# The chart's data: time to the root mounted and to the marker per boot.
keys = ("boot", "root_mounted_s", "marker_s", "fetched_mib", "image_mib", "fetched_pct", "read_before_file_bytes",
        "outside_file_bytes")
json.dump({"rtt_ms": 2 * int(sys.argv[2]), "rate_mbit": int(sys.argv[4]), "accel": sys.argv[3],
           "link_bytes_per_s": link, "boots": [dict(zip(keys, r)) for r in rows]},
          open(f"{sys.argv[5]}/report.json", "w"), indent=2)
with open(f"{sys.argv[5]}/boot.dat", "w") as dat:
    for r in rows:
        dat.write(f'"{names.get(r[0], r[0])}" {r[1]} {r[2]}\n')
PY
title="time to root per boot mode: qemu $accel, $((2 * delay)) ms RTT"
((rate == 0)) || title+=", $rate Mbit/s"
gnuplot -e "dat='$report/boot.dat'; out='$report/boot.png'; title='$title'" "$repo/bench/boot.gp"
echo "report: $report/report.md, report.json; chart: $report/boot.png"
