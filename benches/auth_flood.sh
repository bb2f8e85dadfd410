#!/usr/bin/env bash
# Issue 19's two floods against a real server over loopback, with figures printed:
#  1. 1,000 wrong-password requests (`admin:wrong`, Basic) from 200 connections, while
#     anonymous GETs are timed on their own connection and the server's RSS is sampled;
#  2. 200 slowloris connections (a request head that never ends, one more header line
#     a second), counted still open after WHARF_BENCH_SLOW_SECS.
# It checks nothing: the assertions live in `cargo test` (tests/auth.rs,
# tests/connections.rs). The server runs with its default [server] settings, so the
# same script measures an older binary too.
#
# Usage: benches/auth_flood.sh
# Environment (all optional):
#   WHARF_BIN              server binary to use; skips `cargo build --release`
#   WHARF_BENCH_PORT       port to listen on (default: a free one)
#   WHARF_BENCH_SLOW_SECS  when the slowloris connections are counted (default 25,
#                          past the default 20 s header timeout)

set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SLOW_SECS=${WHARF_BENCH_SLOW_SECS:-25}

require curl python3
find_wharf
bench_tmp wharf-auth-flood
PORT=${WHARF_BENCH_PORT:-$(free_port)}
start_wharf "$PORT" <<'TOML'
[formats.generic]
mount = "/api/packages/{owner}/generic"
TOML
wait_wharf "$WHARF_URL/api/packages/admin/generic/x/1/none"
curl -sf -o /dev/null -X PUT -H "Authorization: token $TOKEN" --data-binary 'small file' \
    "$WHARF_URL/api/packages/admin/generic/bench/1/small.txt"

say "idle server"
echo "RSS $(mib "$(status_kib VmRSS)") MiB"

say "1,000 wrong passwords from 200 connections, anonymous GETs timed meanwhile"
start_sampler "$TMP/rss.peak"
python3 - "$PORT" <<'PY'
import base64, http.client, sys, threading, time
from collections import Counter

port = int(sys.argv[1])
wrong = "Basic " + base64.b64encode(b"admin:wrong").decode()
statuses, lock = Counter(), threading.Lock()
done = threading.Event()

def flood():
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for _ in range(5):
        try:
            conn.request("GET", "/api/packages/admin/generic/bench/1/small.txt",
                         headers={"Authorization": wrong})
            res = conn.getresponse()
            res.read()
            status = res.status
            if res.getheader("connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        except Exception as e:
            status = type(e).__name__
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        with lock:
            statuses[status] += 1

latencies = []
def timer():
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    while not done.is_set():
        started = time.perf_counter()
        conn.request("GET", "/api/packages/admin/generic/bench/1/small.txt")
        res = conn.getresponse()
        res.read()
        latencies.append((time.perf_counter() - started) * 1000)

timing = threading.Thread(target=timer)
timing.start()
started = time.perf_counter()
threads = [threading.Thread(target=flood) for _ in range(200)]
for t in threads:
    t.start()
for t in threads:
    t.join()
took = time.perf_counter() - started
done.set()
timing.join()
latencies.sort()
pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
print(f"flood took {took:.1f} s; answers: "
      + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=str)))
print(f"anonymous GET during the flood: {len(latencies)} requests, "
      f"p50 {pick(0.5):.1f} ms, p99 {pick(0.99):.1f} ms, max {latencies[-1]:.1f} ms")
PY
echo "peak RSS $(mib "$(stop_sampler "$TMP/rss.peak")") MiB"
sleep 5
echo "RSS 5 s later $(mib "$(status_kib VmRSS)") MiB"

say "200 slowloris connections, counted after $SLOW_SECS s"
python3 - "$PORT" "$SLOW_SECS" <<'PY'
import socket, sys, time

port, secs = int(sys.argv[1]), int(sys.argv[2])
socks = []
for _ in range(200):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /api/packages/admin/generic/bench/1/small.txt HTTP/1.1\r\nHost: x\r\n")
    socks.append(s)

def still_open(s):
    s.setblocking(False)
    try:
        return s.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False

started = time.monotonic()
open_now = socks
while time.monotonic() - started < secs:
    time.sleep(1)
    for s in open_now:
        try:
            s.setblocking(True)
            s.sendall(b"X-Slow: 1\r\n")
        except OSError:
            pass
    open_now = [s for s in open_now if still_open(s)]
    n = int(time.monotonic() - started)
    if n % 5 == 0:
        print(f"  after {n:>3} s: {len(open_now)}/200 open", flush=True)
print(f"slowloris connections open after {secs} s: {len(open_now)}/200")
for s in socks:
    s.close()
PY
