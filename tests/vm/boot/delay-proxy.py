#!/usr/bin/env python3
"""delay-proxy.py MS HOST PORT [MBIT LINKFILE]: qemu guestfwd helper (the
guest connection is stdin/stdout) that forwards to HOST:PORT, holding every
piece of data MS milliseconds in each direction: a WAN round trip of 2*MS for
the boot benchmark, before the guest has a network stack to run netem in.

With MBIT, the data also crosses a link of that many Mbit/s, shared by every
connection of one boot: qemu starts one proxy per connection, so the link's
state (when each direction is next free) lives in LINKFILE.up / .down, under
flock. Each piece queues behind what is already on the link, then takes its
length / rate on it, then MS: a FIFO link with a rate and a delay, as
netem's rate + delay would be (the host kernel has no netem)."""
import fcntl, os, socket, struct, sys, threading, time, queue

delay = int(sys.argv[1]) / 1000.0
server = socket.create_connection((sys.argv[2], int(sys.argv[3])))
server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
rate = float(sys.argv[4]) * 1e6 / 8 if len(sys.argv) > 5 and float(sys.argv[4]) > 0 else 0.0
linkfile = sys.argv[5] if rate else None


link_fds = {}


def link_done(direction, n):
    """When n bytes entering the link now have crossed it."""
    now = time.monotonic()  # CLOCK_MONOTONIC: the same clock in every proxy
    if not rate or not n:
        return now
    if direction not in link_fds:
        link_fds[direction] = os.open(f"{linkfile}.{direction}", os.O_RDWR | os.O_CREAT, 0o600)
    fd = link_fds[direction]
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        raw = os.pread(fd, 8, 0)
        free = struct.unpack("d", raw)[0] if len(raw) == 8 else 0.0
        done = max(now, free) + n / rate
        os.pwrite(fd, struct.pack("d", done), 0)
        return done
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def pump(read, write, close_write, direction):
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
        q.put((link_done(direction, len(data)) + delay, data))
        if not data:
            break
    t.join()


def write_stdout(data):
    view = memoryview(data)
    while view:
        n = os.write(1, view)
        view = view[n:]


up = threading.Thread(target=pump, args=(lambda: os.read(0, 262144), server.sendall,
                                         lambda: server.shutdown(socket.SHUT_WR), "up"), daemon=True)
up.start()
pump(lambda: server.recv(262144), write_stdout, lambda: os.close(1), "down")
