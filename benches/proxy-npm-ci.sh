#!/usr/bin/env bash
# `npm ci` of a project with many dependencies through a warm npm proxy, against the
# same install from the same packages hosted (issue 21: "within 1.1x"). Two Wharf
# servers: the upstream hosts DEPS small packages; the second hosts the same packages
# under `admin` and proxies the upstream as `npm-public`. One project per side locks
# its dependencies through that side; a first install warms the proxy's cache. Then `npm ci` runs with an empty
# npm cache and no node_modules, hosted and proxy interleaved round by round, and the
# script prints each time and the median ratio. Checks nothing.
#
# Usage: benches/proxy-npm-ci.sh [BIN]   (default: target/release/wharf)
# Environment: DEPS (default 200), ROUNDS (default 5).

set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BIN=${1:-$ROOT/target/release/wharf}
[[ -x $BIN ]] || die "no server binary at $BIN (cargo build --release)"
require curl npm node tar base64 openssl sha1sum
DEPS=${DEPS:-200}
ROUNDS=${ROUNDS:-5}
PASSWORD=bench-password-$RANDOM
export WHARF_LOG=${WHARF_LOG:-warn}
bench_tmp wharf-proxy-npm-ci

PIDS=()
teardown() { for pid in "${PIDS[@]}"; do stop_pid "$pid"; done; }

# start NAME CONFIG: start_named (lib.sh), remembering the pid for the teardown.
start() { start_named "$@"; PIDS+=("$STARTED_PID"); }

# Each dependency is a real npm tarball (package/package.json and a few KB of code),
# made once and published to both servers.
say "making $DEPS packages"
mkdir -p "$TMP/pkgs"
for i in $(seq -w 1 "$DEPS"); do
    name=bench-dep-$i
    dir=$TMP/pkgs/$name/package
    mkdir -p "$dir"
    printf '{"name":"%s","version":"1.0.0","main":"index.js"}\n' "$name" >"$dir/package.json"
    head -c 6000 /dev/urandom | base64 -w 76 | sed 's/^/\/\/ /' >"$dir/index.js"
    tar -czf "$TMP/pkgs/$name.tgz" -C "$TMP/pkgs/$name" package
    tgz=$TMP/pkgs/$name.tgz
    cat >"$TMP/pkgs/$name.json" <<JSON
{"_id":"$name","name":"$name","dist-tags":{"latest":"1.0.0"},
 "versions":{"1.0.0":{"name":"$name","version":"1.0.0","main":"index.js",
   "dist":{"shasum":"$(sha1sum <"$tgz" | cut -d' ' -f1)","integrity":"sha512-$(openssl dgst -sha512 -binary <"$tgz" | base64 -w0)","tarball":"http://x/$name/-/$name-1.0.0.tgz"}}},
 "_attachments":{"$name-1.0.0.tgz":{"content_type":"application/octet-stream","data":"$(base64 -w0 <"$tgz")","length":$(stat -c %s "$tgz")}}}
JSON
done
publish_all() { # BASE
    local json status
    for json in "$TMP"/pkgs/*.json; do
        status=$(curl -s -o "$TMP/publish.out" -w '%{http_code}' -u "admin:$PASSWORD" -X PUT \
            -H 'content-type: application/json' --data-binary @"$json" "$1/$(basename "$json" .json)")
        [[ $status == 201 ]] || die "publish to $1 answered $status: $(cat "$TMP/publish.out")"
    done
}

start upstream ""
UPSTREAM=http://127.0.0.1:$PORT/api/packages/admin/npm
publish_all "$UPSTREAM"
start wharf "[proxies.npm-public]
format = \"npm\"
upstreams = [\"$UPSTREAM\"]"
declare -A BASES=(
    [hosted]=http://127.0.0.1:$PORT/api/packages/admin/npm/
    [proxy]=http://127.0.0.1:$PORT/api/packages/npm-public/npm/
)
publish_all "${BASES[hosted]}"

# One project per side, with its .npmrc naming that side; the lock's first install also
# warms the proxy (every packument and tarball it needs is then cached). npm 11 leaves
# `resolved` out of the lock for packages of the configured registry, so `npm ci` asks
# that side (the .npmrc's) for every package.
say "locking the project against each side"
deps=$(for i in $(seq -w 1 "$DEPS"); do printf '"bench-dep-%s":"1.0.0",' "$i"; done)
for side in hosted proxy; do
    mkdir -p "$TMP/project-$side"
    printf '{"name":"bench-app","version":"1.0.0","private":true,"dependencies":{%s}}\n' \
        "${deps%,}" >"$TMP/project-$side/package.json"
    printf 'registry=%s\naudit=false\nfund=false\nupdate-notifier=false\n' "${BASES[$side]}" \
        >"$TMP/project-$side/.npmrc"
    (cd "$TMP/project-$side" && npm install --cache "$TMP/lock-cache-$side" --loglevel=error >/dev/null)
done

declare -A TIMES
for round in $(seq "$ROUNDS"); do
    for side in hosted proxy; do
        rm -rf "$TMP/project-$side/node_modules" "$TMP/ci-cache"
        start_s=$(now)
        (cd "$TMP/project-$side" && npm ci --cache "$TMP/ci-cache" --prefer-online --loglevel=error >/dev/null)
        seconds=$(calc "$(now) - $start_s" 3)
        [[ $(find "$TMP/project-$side/node_modules" -maxdepth 1 -name 'bench-dep-*' | wc -l) == "$DEPS" ]] \
            || die "npm ci through $side did not install $DEPS packages"
        TIMES[$side]+="$seconds"$'\n'
        echo "round $round $side npm ci: ${seconds}s"
    done
done
median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
h=$(printf '%s' "${TIMES[hosted]}" | median)
p=$(printf '%s' "${TIMES[proxy]}" | median)
echo "npm ci of $DEPS dependencies, median seconds: hosted=$h warm proxy=$p  proxy/hosted=$(calc "$p / $h" 3)"
