#!/usr/bin/env python3
"""delay-proxy.py MS HOST PORT: qemu guestfwd helper (the guest connection is
stdin/stdout) that forwards to HOST:PORT, holding every piece of data MS
milliseconds in each direction: a WAN round trip of 2*MS for the boot
benchmark, before the guest has a network stack to run netem in."""
import os, socket, sys, threading, time, queue

delay = int(sys.argv[1]) / 1000.0
server = socket.create_connection((sys.argv[2], int(sys.argv[3])))
server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def pump(read, write, close_write):
    q = queue.Queue()

    def sender():
        while True:
            due, data = q.get()
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if not data:
                close_write()
                return
            try:
                write(data)
            except OSError:
                return

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    while True:
        try:
            data = read()
        except OSError:
            data = b""
        q.put((time.monotonic() + delay, data))
        if not data:
            break
    t.join()


def write_stdout(data):
    view = memoryview(data)
    while view:
        n = os.write(1, view)
        view = view[n:]


up = threading.Thread(target=pump, args=(lambda: os.read(0, 65536), server.sendall,
                                         lambda: server.shutdown(socket.SHUT_WR)), daemon=True)
up.start()
pump(lambda: server.recv(65536), write_stdout, lambda: os.close(1))
