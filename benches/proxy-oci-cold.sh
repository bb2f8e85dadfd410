#!/usr/bin/env bash
# A cold pull of a large OCI layer through a proxy, against pulling it from the upstream
# directly (issue 21: time to first byte within 5 ms of the upstream's own, total time
# within 1.1x, server RSS growth under 64 MiB). The upstream is a Wharf holding one
# SIZE_MIB blob in `admin/big`; each round starts a fresh proxy Wharf (empty cache), then
# curl pulls the blob from the upstream directly and through the proxy
# (`/v2/hub/admin/big/blobs/…`), in alternating order. Prints curl's time to first byte
# and total time for each, and the proxy's RSS before the pull and at its peak (sampled
# every 50 ms), the CPU time the proxy spent on the pull (receiving, hashing, writing and
# serving; on a machine with few cores it competes with the upstream and curl for them,
# which is what bounds the loopback ratio) — and checks that the bytes arrived whole. Checks nothing else.
#
# Beside them, when Debian's `docker-registry` is installed (PEER=distribution, the
# default; PEER= to skip), the same pull goes through distribution 2.8's own
# pull-through cache (`proxy.remoteurl`), started empty each round: a peer that also
# streams to the client while it stores and verifies, on the same cores.
#
# With UPSTREAM_RATE (MB/s), both pulls go through a relay (`throttle.py`) that limits
# the upstream's sending rate, as a WAN link to a public registry would; without it the
# upstream is on loopback, where the proxy's own costs (hashing, the disk) show most.
# The load average is printed with the figures: the machine may be shared.
#
# Usage: benches/proxy-oci-cold.sh [BIN]   (default: target/release/wharf)
# Environment: SIZE_MIB (default 1024), ROUNDS (default 5), UPSTREAM_RATE (MB/s; default
# none: no relay).

set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BIN=${1:-$ROOT/target/release/wharf}
[[ -x $BIN ]] || die "no server binary at $BIN (cargo build --release)"
require curl openssl sha256sum
SIZE_MIB=${SIZE_MIB:-1024}
ROUNDS=${ROUNDS:-5}
UPSTREAM_RATE=${UPSTREAM_RATE:-}
PEER=${PEER-distribution}
if [[ $PEER == distribution ]] && ! command -v docker-registry >/dev/null; then
    echo "no docker-registry: the distribution column is skipped (apt-get install docker-registry)"
    PEER=
fi
PASSWORD=bench-password-$RANDOM
export WHARF_LOG=${WHARF_LOG:-warn}
bench_tmp wharf-proxy-oci

UPSTREAM_PID=
RELAY_PID=
DIST_PID=
teardown() {
    [[ -n $DIST_PID ]] && stop_pid "$DIST_PID"
    [[ -n $RELAY_PID ]] && stop_pid "$RELAY_PID"
    [[ -n $UPSTREAM_PID ]] && stop_pid "$UPSTREAM_PID"
    [[ ${PULLED:-} == /dev/shm/* ]] && rm -f "$PULLED"
    return 0
}


say "making a $SIZE_MIB MiB layer"
head -c $((SIZE_MIB << 20)) /dev/zero | openssl enc -aes-128-ctr -K 00 -iv 00 -nosalt 2>/dev/null >"$TMP/layer"
DIGEST=sha256:$(sha256sum "$TMP/layer" | cut -d' ' -f1)

start_named upstream ""
UPSTREAM_PID=$STARTED_PID
UPSTREAM=http://127.0.0.1:$PORT
location=$(curl -sf -u "admin:$PASSWORD" -X POST -D - -o /dev/null "$UPSTREAM/v2/admin/big/blobs/uploads/" |
    tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
[[ -n $location ]] || die "the upstream did not start an upload"
[[ $location == http* ]] || location=$UPSTREAM$location
sep='?'
[[ $location == *\?* ]] && sep='&'
status=$(curl -s -o "$TMP/put.out" -w '%{http_code}' -u "admin:$PASSWORD" -X PUT \
    -H 'content-type: application/octet-stream' -T "$TMP/layer" "$location${sep}digest=$DIGEST")
[[ $status == 201 ]] || die "the upstream refused the layer: $status $(cat "$TMP/put.out")"
rm -f "$TMP/layer" # The upstream has it; the disk holds one copy less.
# The pulled copies go to memory when it can: less disk to need on a shared machine, and
# the client's own writes weigh the same on both sides.
PULLED=$TMP/pulled
[[ -d /dev/shm && -w /dev/shm ]] && PULLED=$(mktemp /dev/shm/wharf-pulled.XXXXXX)

if [[ -n $UPSTREAM_RATE ]]; then
    require python3
    relay_port=$(free_port)
    python3 "$ROOT/benches/throttle.py" "$relay_port" "$PORT" "$UPSTREAM_RATE" >"$TMP/relay.out" &
    RELAY_PID=$!
    for _ in $(seq 50); do grep -q ready "$TMP/relay.out" && break; sleep 0.1; done
    UPSTREAM=http://127.0.0.1:$relay_port
    say "the upstream sends at most $UPSTREAM_RATE MB/s (relay on $UPSTREAM)"
fi

# start_distribution: distribution as a pull-through cache of the upstream (through the
# relay when there is one), empty; sets DIST_URL and DIST_PID.
start_distribution() {
    local dir port
    dir=$(mktemp -d "$TMP/peer.XXXXXX")
    port=$(free_port)
    cat >"$dir/config.yml" <<EOF
version: 0.1
log: { level: warn, accesslog: { disabled: true } }
storage:
  filesystem: { rootdirectory: $dir/data }
  cache: { blobdescriptor: inmemory }
http: { addr: 127.0.0.1:$port, secret: bench-not-secret }
proxy: { remoteurl: "$UPSTREAM", username: admin, password: "$PASSWORD" }
EOF
    docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
    DIST_PID=$!
    DIST_URL=http://127.0.0.1:$port
    for _ in $(seq 100); do curl -sf -o /dev/null "$DIST_URL/v2/" && return; sleep 0.1; done
    die "distribution did not start: $(tail -3 "$dir/log")"
}

# pull NAME URL: one timed GET; appends "ttfb_ms total_s" to $TMP/NAME.times.
pull() {
    local out
    out=$(curl -s -u "admin:$PASSWORD" -o "$PULLED" -w '%{http_code} %{time_starttransfer} %{time_total}' "$2") ||
        die "$1: the transfer failed ($out)"
    [[ $out == 200\ * ]] || die "$1 answered ${out%% *}: $(head -c 300 "$PULLED")"
    out=${out#* }
    [[ $(sha256sum "$PULLED" | cut -d' ' -f1) == "${DIGEST#sha256:}" ]] || die "$1 served other bytes"
    : >"$PULLED"
    read -r ttfb total <<<"$out"
    echo "$(calc "$ttfb * 1000" 2) $total" >>"$TMP/$1.times"
    echo "  $1: first byte $(calc "$ttfb * 1000" 2) ms, total $(calc "$total" 3) s"
}

: >"$TMP/direct.times"
: >"$TMP/proxy.times"
: >"$TMP/distribution.times"
for round in $(seq "$ROUNDS"); do
    start_named proxy "[proxies.hub]
format = \"oci\"
upstreams = [\"$UPSTREAM\"]"
    WHARF_PID=$STARTED_PID
    curl -sf -o /dev/null -u "admin:$PASSWORD" "http://127.0.0.1:$PORT/v2/" || true
    before=$(status_kib VmRSS)
    ticks_before=$(cpu_ticks)
    say "round $round (proxy RSS before: $(mib "$before") MiB)"
    start_sampler "$TMP/rss"
    if ((round % 2)); then
        pull direct "$UPSTREAM/v2/admin/big/blobs/$DIGEST"
        pull proxy "http://127.0.0.1:$PORT/v2/hub/admin/big/blobs/$DIGEST"
    else
        pull proxy "http://127.0.0.1:$PORT/v2/hub/admin/big/blobs/$DIGEST"
        pull direct "$UPSTREAM/v2/admin/big/blobs/$DIGEST"
    fi
    peak=$(stop_sampler "$TMP/rss")
    if [[ -n $PEER ]]; then
        start_distribution
        pull distribution "$DIST_URL/v2/admin/big/blobs/$DIGEST"
        stop_pid "$DIST_PID"
        DIST_PID=
        rm -rf "$TMP"/peer.*
    fi
    cpu=$(calc "($(cpu_ticks) - $ticks_before) / $(getconf CLK_TCK)" 2)
    echo "  proxy RSS peak $(mib "$peak") MiB, growth $(mib $((peak - before))) MiB; proxy CPU $cpu s"
    echo "$cpu" >>"$TMP/cpu"
    echo $((peak - before)) >>"$TMP/growth"
    stop_pid "$WHARF_PID"
    WHARF_PID=
done

median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
dt=$(cut -d' ' -f1 "$TMP/direct.times" | median)
pt=$(cut -d' ' -f1 "$TMP/proxy.times" | median)
dtot=$(cut -d' ' -f2 "$TMP/direct.times" | median)
ptot=$(cut -d' ' -f2 "$TMP/proxy.times" | median)
growth=$(sort -n "$TMP/growth" | tail -1)
cpu=$(median <"$TMP/cpu")
spread() { sort -n | awk '{ v[NR] = $1 } END { printf "%.3f-%.3f", v[1], v[NR] }'; }
echo "direct totals $(cut -d' ' -f2 "$TMP/direct.times" | spread) s, proxy totals $(cut -d' ' -f2 "$TMP/proxy.times" | spread) s;" \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cold $SIZE_MIB MiB layer${UPSTREAM_RATE:+, upstream at $UPSTREAM_RATE MB/s}, medians of $ROUNDS: first byte direct=${dt} ms proxy=${pt} ms" \
    "(+$(calc "$pt - $dt" 2) ms); total direct=${dtot} s proxy=${ptot} s (x$(calc "$ptot / $dtot" 3));" \
    "proxy RSS growth max $(mib "$growth") MiB; proxy CPU median $cpu s ($(nproc) cores)"
if [[ -n $PEER ]]; then
    ptt=$(cut -d' ' -f1 "$TMP/distribution.times" | median)
    ptot=$(cut -d' ' -f2 "$TMP/distribution.times" | median)
    echo "distribution 2.8 as a pull-through cache, same rounds: first byte ${ptt} ms" \
        "(+$(calc "$ptt - $dt" 2) ms); total ${ptot} s (x$(calc "$ptot / $dtot" 3) of direct)"
fi
