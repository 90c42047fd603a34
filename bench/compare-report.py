#!/usr/bin/env python3
"""bench/compare-report.py RESULTS OUTDIR KERNEL... — the one table of
bench/run-compare-bench.sh from the "cmp ..." lines of one or more guest runs
(RESULTS may be a list: one file per kernel, KERNEL names them): OUTDIR gets
report.json, report.md and compare.dat (what compare.gp charts)."""
import json
import sys

# Each lazyroot row is read against the system a user would pick instead.
BASELINE = {
    "lazyroot_file": "loop",
    "lazyroot_http": "nbdkit",
    "lazyroot_http_warm": "loop_cache_file",
    "lazyroot_handoff": "loop_cache_file",
    "lazyroot_nvme_tcp": "kernel_nvme_tcp",
}
LABEL = {
    "loop": "loop device (tmpfs file)",
    "lazyroot_file": "lazyroot, file",
    "lazyroot_http": "lazyroot, HTTP cold",
    "nbdkit": "nbdkit curl + readahead + cache, NBD",
    "nbdkit_cache": "nbdkit curl + cache, NBD",
    "nbdkit_multi": "nbdkit curl, 8 NBD connections",
    "lazyroot_http_warm": "lazyroot, HTTP warm (cache)",
    "loop_cache_file": "loop device on the cache file",
    "lazyroot_handoff": "lazyroot, after the hand-off (cache)",
    "kernel_nvme_tcp": "kernel nvme-tcp",
    "lazyroot_nvme_tcp": "lazyroot, NVMe/TCP",
    "curl_1": "curl, 1 stream",
    "curl_4": "curl, 4 parallel ranges",
}
METRICS = ("seq_MBps", "iops_qd1", "iops_qd32")


def parse(path):
    rows = {}
    for line in open(path):
        if not line.startswith("cmp "):
            continue
        kv = dict(f.split("=", 1) for f in line.split()[1:])
        rows.setdefault(kv["system"], {})[kv["metric"]] = float(kv["value"])
    return rows


def baseline(rows, sys_, metric):
    # Against nbdkit, the best of its set-ups for this figure.
    if BASELINE.get(sys_) == "nbdkit":
        best = max(("nbdkit", "nbdkit_cache", "nbdkit_multi"), key=lambda s: rows.get(s, {}).get(metric, 0))
        return best, rows.get(best, {}).get(metric)
    return BASELINE.get(sys_, ""), rows.get(BASELINE.get(sys_, ""), {}).get(metric)


def cell(rows, sys_, metric):
    v = rows.get(sys_, {}).get(metric)
    if v is None:
        return "—"
    text = f"{v:.1f}" if metric == "seq_MBps" else f"{v:.0f}"
    name, base = baseline(rows, sys_, metric)
    if base and name != BASELINE.get(sys_):
        text += f" (**{v / base:.2f}×** {LABEL[name].split(',')[0]})"
        return text
    if base:
        text += f" (**{v / base:.2f}×**)"
    return text


def main():
    out = sys.argv[2]
    pairs = list(zip(sys.argv[1].split(","), sys.argv[3:]))
    report = {k: parse(p) for p, k in pairs}
    json.dump({"baselines": BASELINE, "kernels": report}, open(f"{out}/report.json", "w"), indent=2)
    md = []
    for kernel, rows in report.items():
        md.append(f"guest kernel {kernel}; ratios (bold) against the row named in *baseline* (for HTTP cold, the"
                  " best of nbdkit's three set-ups, named)\n")
        md.append("| system | baseline | cold seq MB/s | 4k QD1 IOPS | 4k QD32 IOPS | fetched for mount + one file |")
        md.append("|---|---|---|---|---|---|")
        for s in LABEL:
            if s not in rows:
                continue
            fetched = rows[s].get("fetched_bytes")
            seq = cell(rows, s, "seq_MBps")
            if s == "lazyroot_http" and rows.get("curl_4", {}).get("seq_MBps"):
                seq += f", {rows[s]['seq_MBps'] / rows['curl_4']['seq_MBps']:.2f}× curl 4 ranges"
            md.append(
                f"| {LABEL[s]} | {LABEL.get(BASELINE.get(s, ''), '')} | {seq} | {cell(rows, s, 'iops_qd1')} | "
                f"{cell(rows, s, 'iops_qd32')} | {'—' if fetched is None else f'{fetched / 1048576:.1f} MiB'} |"
            )
        md.append("")
    open(f"{out}/report.md", "w").write("\n".join(md))
    # compare.dat: one block per kernel, a row per system (gnuplot histograms).
    with open(f"{out}/compare.dat", "w") as dat:
        for kernel, rows in report.items():
            dat.write(f"# {kernel}: system seq_MBps iops_qd1 iops_qd32\n")
            for s in LABEL:
                if s in rows:
                    vals = " ".join(str(rows[s].get(m, 0)) for m in METRICS)
                    dat.write(f'"{LABEL[s]}" {vals}\n')
            dat.write("\n\n")
    print("\n".join(md))


main()
