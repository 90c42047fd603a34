#!/usr/bin/env python3
# Copies a guest's serial console from stdin to CONSOLE unchanged and writes
# TIMES: each line again, prefixed with the seconds since this started (the
# firmware's start, as qemu starts with it), so that a test can tell when the
# firmware loaded the UKI and when the booted root printed its marker.
#   qemu … | console-times.py CONSOLE TIMES
import sys, time

start = time.monotonic()
with open(sys.argv[1], "wb", buffering=0) as console, open(sys.argv[2], "w", buffering=1) as times:
    line = b""
    while chunk := sys.stdin.buffer.read1(65536):
        console.write(chunk)
        line += chunk
        *done, line = line.split(b"\n")
        now = time.monotonic() - start
        for l in done:
            times.write(f"{now:.2f} {l.decode('utf-8', 'replace').rstrip()}\n")
    if line:
        times.write(f"{time.monotonic() - start:.2f} {line.decode('utf-8', 'replace')}\n")
