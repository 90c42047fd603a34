#!/usr/bin/env python3
"""What nginx sent a boot that replayed a prefetch profile, in log order.

  profile-log.py ACCESS_LOG PROFILE

Checks (exit 1 with one line when one fails): the profile was fetched (one
whole-file GET) before any chunk of the image (attach's probes of a few
bytes come first); the first range request is of
the profile's first chunks; every chunk of the profile was requested. Prints
how the requests split: in the profile or outside it (the boot's own demand
misses: the deliberate file, and what this boot read differently), and how
many of the profile's bytes were requested before the first miss outside it.
"""
import re
import sys

log_path, profile_path = sys.argv[1], sys.argv[2]
lines = open(profile_path).read().split("\n")
chunk = int(lines[3].split()[1])
count = int(lines[4].split()[1])
order = [int(x) for x in lines[5:5 + count]]
in_profile = set(order)

events = []  # (kind, first_chunk, last_chunk, bytes)
for line in open(log_path):
    f = line.split()
    if len(f) < 5:
        continue
    status, rng, sent = f[1], f[3].strip('"'), int(f[-1])
    if status == "200" and rng == "-":
        events.append(("whole", None, None, sent))
    m = re.match(r"bytes=(\d+)-(\d+)", rng)
    if status == "206" and m:
        events.append(("range", int(m[1]) // chunk, int(m[2]) // chunk, sent))


def fail(why):
    sys.exit(f"profile-log: {why}")


profile_get = next((i for i, e in enumerate(events) if e[0] == "whole"), None)
if profile_get is None:
    fail("nginx sent no whole file (the profile)")
# Before it, only attach's probes of the image (its size, its first bytes'
# format), never a chunk.
early = [e for e in events[:profile_get] if e[0] == "range" and e[3] > 512]
if early:
    fail(f"{len(early)} ranges of the image ({sum(e[3] for e in early)} bytes) were requested before the profile")
events = events[profile_get + 1:]
first_range = next((i for i, e in enumerate(events) if e[0] == "range"), None)
if first_range is None:
    fail("no range of the image was requested after the profile")
requested = set()
before_miss = 0
outside_requests = outside_bytes = 0
first_miss = None
for i, (kind, lo, hi, sent) in enumerate(events):
    if kind != "range":
        continue
    chunks = set(range(lo, hi + 1))
    if chunks <= in_profile:
        requested |= chunks
        if first_miss is None:
            before_miss += sent
    else:
        requested |= chunks & in_profile
        outside_requests += 1
        outside_bytes += sent
        if first_miss is None:
            first_miss = i
lo = events[first_range][1]
if lo not in in_profile:
    fail(f"the first range request (chunk {lo}) is not in the profile")
missing = in_profile - requested
if missing:
    fail(f"{len(missing)} of the profile's {len(in_profile)} chunks were never requested")
print(f"profile-log: {len(in_profile)} chunks ({len(in_profile) * chunk} bytes) requested; "
      f"{before_miss} bytes of the profile requested before the first request outside it; "
      f"{outside_requests} requests ({outside_bytes} bytes) outside the profile")
