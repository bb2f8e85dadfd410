#!/usr/bin/env bash
# Two builds of Wharf side by side on one workload, interleaved round by round so
# that machine noise (other load, CPU frequency) hits both alike: the way to tell a
# regression from noise. Each server gets a fresh data directory and one npm package
# with a ~52 KB tarball; wrk then fetches the tarball (or, with WORKLOAD=packument,
# the abbreviated packument) from A, then B, ROUNDS times. Prints req/s and the
# server's CPU time per request (user + system, from /proc: unlike req/s it hardly
# moves when other work shares the machine) per round, and the medians. Checks nothing.
#
# Usage: benches/compare-builds.sh BIN_A BIN_B
# Environment: ROUNDS (default 5), DURATION seconds per run (default 8), CONNS (20),
#              THREADS (2), WORKLOAD (tarball | packument), CONFIG (registry.toml text
#              for both servers; default empty), CONFIG_B (B's instead, e.g. to switch
#              off a feature A's build does not have).

set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 2 ]] || die "usage: $0 BIN_A BIN_B"
require curl wrk base64
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-8}
WORKLOAD=${WORKLOAD:-tarball}
PASSWORD=bench-password-$RANDOM
bench_tmp wharf-compare

PIDS=()
teardown() { for pid in "${PIDS[@]}"; do stop_pid "$pid"; done; }

# A deterministic tarball-sized attachment, the same bytes for both servers.
head -c 52000 /dev/zero | openssl enc -aes-128-ctr -K 00 -iv 00 -nosalt 2>/dev/null >"$TMP/tgz" ||
    head -c 52000 /dev/urandom >"$TMP/tgz"
DATA=$(base64 -w0 <"$TMP/tgz")
SHASUM=$(sha1sum <"$TMP/tgz" | cut -d' ' -f1)
cat >"$TMP/publish.json" <<JSON
{"_id":"bench-pkg","name":"bench-pkg","dist-tags":{"latest":"1.0.0"},
 "versions":{"1.0.0":{"name":"bench-pkg","version":"1.0.0","description":"compare builds",
   "dist":{"shasum":"$SHASUM","tarball":"http://x/bench-pkg/-/bench-pkg-1.0.0.tgz"}}},
 "_attachments":{"bench-pkg-1.0.0.tgz":{"content_type":"application/octet-stream","data":"$DATA","length":52000}}}
JSON

URLS=()
for side in A B; do
    bin=$1
    shift
    [[ -x $bin ]] || die "no server binary at $bin"
    port=$(free_port)
    mkdir -p "$TMP/$side"
    config=${CONFIG:-}
    if [[ $side == B && -n ${CONFIG_B:-} ]]; then config=$CONFIG_B; fi
    printf '%s\n' "$config" >"$TMP/$side/registry.toml"
    WHARF_LISTEN=127.0.0.1:$port WHARF_DATA_DIR=$TMP/$side/data WHARF_PUBLIC_URL=http://127.0.0.1:$port \
        WHARF_ADMIN_PASSWORD=$PASSWORD "$bin" serve --config "$TMP/$side/registry.toml" \
        >"$TMP/$side/stdout" 2>"$TMP/$side/stderr" &
    PIDS+=($!)
    base=http://127.0.0.1:$port/api/packages/admin/npm
    for _ in $(seq 600); do curl -sf -o /dev/null "$base/-/ping" && break; sleep 0.1; done
    status=$(curl -s -o "$TMP/$side/publish.out" -w '%{http_code}' -u "admin:$PASSWORD" \
        -X PUT -H 'content-type: application/json' --data-binary @"$TMP/publish.json" "$base/bench-pkg")
    [[ $status == 201 ]] || die "$side: publish answered $status: $(cat "$TMP/$side/publish.out")"
    case $WORKLOAD in
        tarball) URLS+=("$base/bench-pkg/-/bench-pkg-1.0.0.tgz") ;;
        packument) URLS+=("$base/bench-pkg") ;;
        *) die "unknown WORKLOAD $WORKLOAD" ;;
    esac
    echo "$side: $bin on port $port"
done

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

declare -A RPS CPU
for round in $(seq "$ROUNDS"); do
    for i in 0 1; do
        side=$([[ $i == 0 ]] && echo A || echo B)
        before=$(ticks "${PIDS[$i]}")
        out=$(wrk -t"${THREADS:-2}" -c"${CONNS:-20}" -d"${DURATION}"s \
            -H 'accept: application/vnd.npm.install-v1+json' "${URLS[$i]}")
        used=$(($(ticks "${PIDS[$i]}") - before))
        rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
        requests=$(awk '/requests in/ { print $1 }' <<<"$out")
        us=$(calc "$used / $TICKS_PER_S * 1000000 / $requests" 1)
        RPS[$side]+="$rps"$'\n'
        CPU[$side]+="$us"$'\n'
        echo "round $round $side $WORKLOAD req/s=$rps server-cpu-us/req=$us"
    done
done
ma=$(printf '%s' "${RPS[A]}" | stats | awk '{ print $2 }')
mb=$(printf '%s' "${RPS[B]}" | stats | awk '{ print $2 }')
echo "median req/s: A=$ma B=$mb  B/A=$(calc "$mb / $ma" 3)"
ca=$(printf '%s' "${CPU[A]}" | stats | awk '{ print $2 }')
cb=$(printf '%s' "${CPU[B]}" | stats | awk '{ print $2 }')
echo "median server CPU us/request: A=$ca B=$cb  B/A=$(calc "$cb / $ca" 3)"
