#!/usr/bin/env python3
"""Bytes nginx sent for ranges of the image outside one file's blocks.

  fetch-split.py ACCESS_LOG BLOCKS_FILE

BLOCKS_FILE: the file's 4 KiB block numbers in the image (debugfs -R
"blocks /srv/big.bin"). Prints the bytes of 206 answers outside those blocks:
what a boot fetched beyond the file it reads on purpose, to compare with the
working set the boot read.
"""
import re
import sys

blocks = set(int(b) for b in open(sys.argv[2]).read().split())
outside = 0
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) < 5 or f[1] != "206" or (len(f) > 5 and f[4] == "/link-probe.img"):
        continue  # the bench's link probe is not the boot's
    m = re.match(r'"?bytes=(\d+)-(\d+)', f[3])
    if not m:
        continue
    lo, hi = int(m[1]), int(m[2])
    for b in range(lo // 4096, hi // 4096 + 1):
        if b not in blocks:
            outside += min(hi + 1, (b + 1) * 4096) - max(lo, b * 4096)
print(outside)
