#!/usr/bin/env bash
# OCI push and pull with skopeo, Wharf side by side with distribution 2.8 (Debian's
# docker-registry) in one run on one machine: absolute figures drift between machines,
# the ratios are what we track. Both servers get exactly the same workload from the
# shared ../shared/bench/oci-bench.sh (see its README.md): a 1 GiB single-layer image
# and a 200-layer image, pushed and pulled RUNS times each, every run to a fresh
# repository with a fresh skopeo blob-info cache, with the server's peak RSS and CPU.
# It prints numbers and checks nothing: the assertions live in `cargo test`.
#
# Usage: benches/oci.sh
# Environment (all optional):
#   WHARF_BIN           server binary to use; skips `cargo build --release`
#   WHARF_OCI_PLUGIN    the OCI plugin's .wasm, while it is not bundled (default: bundled)
#   ONLY                `wharf` or `distribution` to measure one server only
#   RUNS                timed copies per image and direction (default 3)
#   WHARF_BENCH_CACHE   where the images are kept between runs (default $HOME/.cache/wharf-bench)
#   WHARF_LOG           server log filter (default: the server's own, `info`)
#
# Needs skopeo, umoci, docker-registry (apt), node, curl and openssl. The images are
# built on the first run (about 2 GiB of disk in the cache) and reused afterwards.

set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SHARED=$(dirname "${BASH_SOURCE[0]}")/../../shared/bench
ONLY=${ONLY:-}
export RUNS=${RUNS:-3}
export WHARF_BENCH_CACHE=${WHARF_BENCH_CACHE:-$HOME/.cache/wharf-bench}

# ---------------------------------------------------------------------------- cleanup

DISTRIBUTION_PID=
# Run by cleanup (lib.sh), which then stops Wharf.
teardown() {
    # The setup script writes the pid file as soon as the registry starts, so this also
    # covers a setup that failed half-way.
    if [[ -z $DISTRIBUTION_PID && -s $TMP/distribution/registry.pid ]]; then
        DISTRIBUTION_PID=$(cat "$TMP/distribution/registry.pid")
    fi
    if [[ -n $DISTRIBUTION_PID ]]; then stop_pid "$DISTRIBUTION_PID"; fi
}
bench_tmp wharf-oci-bench

# ---------------------------------------------------------------------------- prerequisites

for script in distribution-setup.sh oci-bench.sh; do
    [[ -f $SHARED/$script ]] \
        || die "missing $SHARED/$script: the shared bench scripts must sit at ../shared/bench next to the repository"
done
SHARED=$(cd "$SHARED" && pwd)
require skopeo umoci node curl openssl
case $ONLY in
    "" | wharf | distribution) ;;
    *) die "ONLY must be wharf or distribution, not $ONLY" ;;
esac
if [[ $ONLY != wharf ]]; then require docker-registry; fi

# bench NAME HOST:PORT PREFIX PID [USER:PASS]: oci-bench.sh against one server, its
# output shown and kept in $TMP/NAME.out.
bench() {
    local name=$1 registry=$2 prefix=$3 pid=$4
    shift 4
    say "$name: oci-bench.sh $registry/$prefix ($RUNS runs per image and direction)"
    SERVER_PID=$pid "$SHARED/oci-bench.sh" "$registry" "$prefix" "$@" | tee "$TMP/$name.out"
}

# ---------------------------------------------------------------------------- distribution

if [[ $ONLY != wharf ]]; then
    DIST_REG=$("$SHARED/distribution-setup.sh" "$TMP/distribution" "$(free_port)")
    DISTRIBUTION_PID=$(cat "$TMP/distribution/registry.pid")
    bench distribution "$DIST_REG" bench "$DISTRIBUTION_PID"
    stop_pid "$DISTRIBUTION_PID"
    DISTRIBUTION_PID=
fi

# ---------------------------------------------------------------------------- wharf

if [[ $ONLY != distribution ]]; then
    find_wharf
    PORT=$(free_port)
    start_wharf "$PORT" <<TOML
[formats.oci]
mount = "/v2"
plugin = "${WHARF_OCI_PLUGIN:-bundled}"
max_upload = "10 GiB"
TOML
    # Any answer will do (an anonymous /v2/ is a 401); the token is only known afterwards.
    wait_wharf "$WHARF_URL/v2/"
    curl -sf -o /dev/null -u "admin:$TOKEN" "$WHARF_URL/v2/" || die "wharf does not answer $WHARF_URL/v2/"
    echo "  ready (pid $WHARF_PID), idle RSS $(mib "$(status_kib VmRSS)") MiB"
    bench wharf "127.0.0.1:$PORT" admin/bench "$WHARF_PID" "admin:$TOKEN"
fi

# ---------------------------------------------------------------------------- summary

# field NAME KEY -> the value of KEY=… on NAME's SUMMARY line, without its unit
field() {
    awk -v k="$2" '/^SUMMARY/ { for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) {
        v = substr($i, length(k) + 2); sub(/(s|MB\/s)$/, "", v); print v } }' "$TMP/$1.out"
}
# rss NAME IMAGE PHASE -> server_peak_rss_mib of that line of NAME's output
rss() {
    awk -v i="$2" -v p="$3" '$1 == i && $2 == p { for (f = 3; f <= NF; f++)
        if (index($f, "server_peak_rss_mib=") == 1) print substr($f, 21) }' "$TMP/$1.out"
}

say "summary: median seconds of $RUNS runs, server peak RSS in MiB; ratio = wharf / distribution"
printf '  %-11s %14s %10s %10s %14s %10s\n' workload distribution "(RSS)" wharf "(RSS)" ratio
for w in big-push big-pull small-push small-pull; do
    img=${w%-*} phase=${w#*-} d=- drss=- x=- xrss=- ratio=-
    if [[ -s $TMP/distribution.out ]]; then d=$(field distribution "$w") drss=$(rss distribution "$img" "$phase"); fi
    if [[ -s $TMP/wharf.out ]]; then x=$(field wharf "$w") xrss=$(rss wharf "$img" "$phase"); fi
    if [[ $d != - && $x != - ]]; then ratio=$(calc "$x / $d" 2); fi
    printf '  %-11s %14s %10s %10s %14s %10s\n' "$w" "$d" "$drss" "$x" "$xrss" "$ratio"
done
echo "  (big = one 1 GiB layer, small = 200 layers of 10 KiB; $(nproc) CPUs, loopback, skopeo $(skopeo --version | awk '{ print $3 }'))"
