#!/usr/bin/env bash
# A warm npm proxy against the same package hosted (issue 21's "at least 90 % of the
# same package hosted"). Two Wharf servers: the upstream hosts one package with a
# ~52 KB tarball; the second hosts the same package under `admin` and proxies the
# upstream as `npm-public`. After one request warms the proxy's cache, wrk fetches the
# tarball, the abbreviated packument and the full one from the hosted owner and from
# the proxy, interleaved round by round. Prints req/s and the server's CPU time per request, and
# the proxy/hosted ratios. With VERDACCIO set to Verdaccio's bin/verdaccio (6.8, as
# ../shared/bench/verdaccio-setup.sh installs it), Verdaccio proxies the same upstream
# (an uplink, no local packages) and is measured in the same rounds. Checks nothing.
#
# Usage: benches/proxy.sh [BIN]   (default: target/release/wharf)
# Environment: ROUNDS (default 5), DURATION seconds per run (default 6), CONNS (20),
#              THREADS (2), VERSIONS published of the package (default 1; the
#              packument grows with them, as a real package's does), VERDACCIO
#              (optional).

set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BIN=${1:-$ROOT/target/release/wharf}
[[ -x $BIN ]] || die "no server binary at $BIN (cargo build --release)"
require curl wrk base64 openssl
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-6}
PASSWORD=bench-password-$RANDOM
bench_tmp wharf-proxy

PIDS=()
teardown() { for pid in "${PIDS[@]}"; do stop_pid "$pid"; done; }
SIDES=(hosted proxy)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

head -c 52000 /dev/zero | openssl enc -aes-128-ctr -K 00 -iv 00 -nosalt 2>/dev/null >"$TMP/tgz"
DATA=$(base64 -w0 <"$TMP/tgz")
SHASUM=$(sha1sum <"$TMP/tgz" | cut -d' ' -f1)
INTEGRITY=sha512-$(openssl dgst -sha512 -binary <"$TMP/tgz" | base64 -w0)
VERSIONS=${VERSIONS:-1}
LATEST=1.0.$VERSIONS
# publish_json VERSION: the publish document of one version (the same tarball each time).
publish_json() {
    cat >"$TMP/publish.json" <<JSON
{"_id":"bench-pkg","name":"bench-pkg","dist-tags":{"latest":"$1"},
 "versions":{"$1":{"name":"bench-pkg","version":"$1","description":"proxy bench",
   "dist":{"shasum":"$SHASUM","integrity":"$INTEGRITY","tarball":"http://x/bench-pkg/-/bench-pkg-$1.tgz"}}},
 "_attachments":{"bench-pkg-$1.tgz":{"content_type":"application/octet-stream","data":"$DATA","length":52000}}}
JSON
}

# start NAME CONFIG: start_named (lib.sh), remembering the pid for the teardown.
start() { start_named "$@"; PIDS+=("$STARTED_PID"); }
publish() { # BASE: every version, oldest first
    local status i
    for i in $(seq "$VERSIONS"); do
        publish_json "1.0.$i"
        status=$(curl -s -o "$TMP/publish.out" -w '%{http_code}' -u "admin:$PASSWORD" -X PUT \
            -H 'content-type: application/json' --data-binary @"$TMP/publish.json" "$1/bench-pkg")
        [[ $status == 201 ]] || die "publish to $1 answered $status: $(cat "$TMP/publish.out")"
    done
}

start upstream ""
UPSTREAM=http://127.0.0.1:$PORT/api/packages/admin/npm
publish "$UPSTREAM"
start wharf "[proxies.npm-public]
format = \"npm\"
upstreams = [\"$UPSTREAM\"]"
WHARF=${PIDS[1]}
HOSTED=http://127.0.0.1:$PORT/api/packages/admin/npm
PROXY=http://127.0.0.1:$PORT/api/packages/npm-public/npm
publish "$HOSTED"
ACCEPT='accept: application/vnd.npm.install-v1+json'
for base in "$HOSTED" "$PROXY"; do # warm both
    curl -sf -o /dev/null -H "$ACCEPT" "$base/bench-pkg"
    curl -sf -o /dev/null "$base/bench-pkg/-/bench-pkg-$LATEST.tgz"
done
cmp -s "$TMP/tgz" <(curl -sf "$PROXY/bench-pkg/-/bench-pkg-$LATEST.tgz") || die "the proxy served other bytes"

declare -A BASES=([hosted]=$HOSTED [proxy]=$PROXY) SERVER=([hosted]=$WHARF [proxy]=$WHARF)
if [[ -n ${VERDACCIO:-} ]]; then
    require node
    VPORT=$(free_port)
    cat >"$TMP/verdaccio.yaml" <<YAML
storage: $TMP/verdaccio-storage
auth: { htpasswd: { file: $TMP/htpasswd, max_users: 0 } }
uplinks: { wharf: { url: $UPSTREAM/ } }
packages: { '**': { access: \$all, proxy: wharf } }
server: { keepAliveTimeout: 60 }
listen: 127.0.0.1:$VPORT
log: { type: file, path: $TMP/verdaccio.log, level: warn }
YAML
    node "$VERDACCIO" --config "$TMP/verdaccio.yaml" >"$TMP/verdaccio.out" 2>&1 &
    PIDS+=($!)
    BASES[verdaccio]=http://127.0.0.1:$VPORT
    SERVER[verdaccio]=$!
    for _ in $(seq 100); do curl -sf -o /dev/null "${BASES[verdaccio]}/-/ping" && break; sleep 0.2; done
    curl -sf -o /dev/null -H "$ACCEPT" "${BASES[verdaccio]}/bench-pkg" || die "Verdaccio did not proxy"
    curl -sf -o /dev/null "${BASES[verdaccio]}/bench-pkg/-/bench-pkg-$LATEST.tgz"
    SIDES+=(verdaccio)
fi

# packument = the abbreviated document installs ask for; full-packument = `npm view`'s.
WORKLOADS=(tarball packument full-packument)
declare -A RPS CPU
for round in $(seq "$ROUNDS"); do
    for workload in "${WORKLOADS[@]}"; do
        for side in "${SIDES[@]}"; do
            base=${BASES[$side]}
            url=$base/bench-pkg
            accept=$ACCEPT
            [[ $workload == tarball ]] && url=$base/bench-pkg/-/bench-pkg-$LATEST.tgz
            [[ $workload == full-packument ]] && accept='accept: application/json'
            before=$(ticks "${SERVER[$side]}")
            out=$(wrk -t"${THREADS:-2}" -c"${CONNS:-20}" -d"${DURATION}"s -H "$accept" "$url")
            used=$(($(ticks "${SERVER[$side]}") - before))
            rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
            requests=$(awk '/requests in/ { print $1 }' <<<"$out")
            us=$(calc "$used / $TICKS_PER_S * 1000000 / $requests" 1)
            RPS[$workload-$side]+="$rps"$'\n'
            CPU[$workload-$side]+="$us"$'\n'
            echo "round $round $workload $side req/s=$rps server-cpu-us/req=$us"
        done
    done
done
for workload in "${WORKLOADS[@]}"; do
    h=$(printf '%s' "${RPS[$workload-hosted]}" | stats | awk '{ print $2 }')
    p=$(printf '%s' "${RPS[$workload-proxy]}" | stats | awk '{ print $2 }')
    hc=$(printf '%s' "${CPU[$workload-hosted]}" | stats | awk '{ print $2 }')
    pc=$(printf '%s' "${CPU[$workload-proxy]}" | stats | awk '{ print $2 }')
    echo "$workload median req/s: hosted=$h proxy=$p  proxy/hosted=$(calc "$p / $h" 3);" \
        "CPU us/request: hosted=$hc proxy=$pc"
    if [[ -n ${RPS[$workload-verdaccio]:-} ]]; then
        v=$(printf '%s' "${RPS[$workload-verdaccio]}" | stats | awk '{ print $2 }')
        echo "$workload median req/s: Verdaccio proxying the same upstream=$v  Wharf proxy/Verdaccio=$(calc "$p / $v" 1)"
    fi
done
