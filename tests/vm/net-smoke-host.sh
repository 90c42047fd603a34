#!/bin/bash
# net-smoke-host.sh RUN-VM-COMMAND...
#
# Host side of vm.net-smoke: serves a random 16 MiB file over HTTP on
# 127.0.0.1 (free port), then runs the given run-vm.sh command with
# --fwd 80:PORT and the file's sha256 for the guest to check.
set -euo pipefail

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lazyroot-net-smoke.XXXXXX")
server_pid=
cleanup() {
    if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

head -c 16777216 /dev/urandom >"$tmp/blob"
sum=$(sha256sum "$tmp/blob" | cut -d' ' -f1)

python=$(command -v /usr/bin/python3 python3 | head -n 1)
# Bind to port 0 so parallel runs never collide; report the port via a file.
"$python" - "$tmp" <<'PY' &
import functools, http.server, os, sys
d = sys.argv[1]
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
h = functools.partial(Quiet, directory=d)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
with open(os.path.join(d, ".port.tmp"), "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(os.path.join(d, ".port.tmp"), os.path.join(d, "port"))
srv.serve_forever()
PY
server_pid=$!
for _ in $(seq 100); do
    [[ -s $tmp/port ]] && break
    kill -0 "$server_pid" || { echo "net-smoke-host: server died" >&2; exit 1; }
    sleep 0.05
done
port=$(cat "$tmp/port")

"$@" --fwd "80:$port" --env "NET_SMOKE_SHA256=$sum" --env NET_SMOKE_SIZE=16777216
