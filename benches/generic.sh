#!/usr/bin/env bash
# Throughput and memory figures for the generic format, measured against a real
# release server over loopback with curl. It prints numbers and checks nothing: the
# assertions live in `cargo test`.
#
# Usage: benches/generic.sh
# Environment (all optional):
#   WHARF_BIN             server binary to use; skips `cargo build --release`
#   WHARF_BENCH_PORT      port to listen on (default: a free one)
#   WHARF_BENCH_SIZE_MB   size of the large file in MiB (default 1024)
#   WHARF_BENCH_GETS      number of small GETs (default 2000)
#   WHARF_BENCH_CACHE     where the large file is kept between runs
#                         (default $HOME/.cache/wharf-bench)
#   WHARF_LOG             server log filter (default: the server's own, `info`)
#   WHARF_BENCH_METRICS_ROUNDS  rounds of the metrics-cost comparison (default 3)
#   WHARF_BENCH_METRICS_SECS    seconds of wrk per server and round (default 8)
#
# All figures are warm page cache: the large file is read once before anything is
# timed, so the numbers compare CPU and syscall cost, not the disk's read speed.
# Upload writes (and fsyncs) a real blob, so upload figures do include the disk.

set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIZE_MB=${WHARF_BENCH_SIZE_MB:-1024}
GETS=${WHARF_BENCH_GETS:-2000}
METRICS_ROUNDS=${WHARF_BENCH_METRICS_ROUNDS:-3}
METRICS_SECS=${WHARF_BENCH_METRICS_SECS:-8}
CACHE=${WHARF_BENCH_CACHE:-$HOME/.cache/wharf-bench}
MiB=1048576

# ---------------------------------------------------------------------------- helpers

# Memory figures (status_kib in lib.sh) come from /proc so they are the kernel's view of
# the whole server process (wasmtime's pooled slots are reserved address space, not RSS,
# until touched).

# Times a command's wall clock; sets ELAPSED (seconds).
timed() {
    local t0
    t0=$(now)
    "$@"
    ELAPSED=$(calc "$(now) - $t0" 3)
}

# ---------------------------------------------------------------------------- cleanup

# Run by cleanup (lib.sh) before it stops the server.
teardown() {
    if [[ -n $SAMPLER_PID ]]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
}
bench_tmp wharf-bench

# ---------------------------------------------------------------------------- binary

find_wharf
require curl

# ---------------------------------------------------------------------------- input file

mkdir -p "$CACHE"
BIG=$CACHE/random-${SIZE_MB}M.bin
SIZE=$((SIZE_MB * MiB))
if [[ ! -f $BIG || $(stat -c %s "$BIG") -ne $SIZE ]]; then
    say "creating $BIG (once; kept for later runs)"
    # Random bytes so nothing along the way (page cache, filesystem) can compress it.
    head -c "$SIZE" /dev/urandom >"$BIG.part"
    mv "$BIG.part" "$BIG"
fi

# ---------------------------------------------------------------------------- baselines

say "baselines on this machine (${SIZE_MB} MiB, warm cache)"
cat "$BIG" >/dev/null # warm the page cache so every timing below reads from memory
# shellcheck disable=SC2016 # $1 is the inner sh's, not ours
timed sh -c 'cat "$1" >/dev/null' _ "$BIG"
CAT_S=$ELAPSED
timed sha256sum "$BIG" >/dev/null
SHA_S=$ELAPSED
# Upload = stream + sha256 + write + fsync; a copy with fsync is the disk's share of it.
timed dd if="$BIG" of="$TMP/copy" bs=1M conv=fsync status=none
DD_S=$ELAPSED
rm -f "$TMP/copy"
CAT_MBS=$(calc "$SIZE_MB / $CAT_S")
SHA_MBS=$(calc "$SIZE_MB / $SHA_S")
DD_MBS=$(calc "$SIZE_MB / $DD_S")
printf '  cat > /dev/null      %8s MiB/s  (%ss)\n' "$CAT_MBS" "$CAT_S"
printf '  sha256sum            %8s MiB/s  (%ss)\n' "$SHA_MBS" "$SHA_S"
printf '  dd conv=fsync copy   %8s MiB/s  (%ss)\n' "$DD_MBS" "$DD_S"

# ---------------------------------------------------------------------------- server

PORT=${WHARF_BENCH_PORT:-$(free_port)}
# serve_generic METRICS: starts the server with `[metrics] enabled = METRICS` (true or
# false) and waits for it; sets BASE and AUTH. max_upload must admit the large file.
serve_generic() {
    start_wharf "$PORT" <<TOML
[formats.generic]
mount = "/api/packages/{owner}/generic"
max_upload = "$((SIZE_MB + 64)) MiB"

[metrics]
enabled = $1
TOML
    BASE=$WHARF_URL/api/packages/admin/generic
    # Any HTTP answer will do (the path does not exist): it shows the socket is up.
    wait_wharf "$BASE/none/1/none"
    AUTH=(-H "Authorization: token $TOKEN")
}
serve_generic true
IDLE_KIB=$(status_kib VmRSS)
printf '  ready; idle RSS %s MiB\n' "$(mib "$IDLE_KIB")"

# ---------------------------------------------------------------------------- large upload

say "upload ${SIZE_MB} MiB (curl --upload-file)"
UP_BEFORE=$(status_kib VmRSS)
start_sampler "$TMP/rss-upload"
# speed_upload is bytes/s over the whole transfer, as curl users see it.
read -r UP_CODE UP_SPEED UP_TIME < <(curl -s -o "$TMP/upload-body" "${AUTH[@]}" \
    -w '%{http_code} %{speed_upload} %{time_total}\n' --upload-file "$BIG" "$BASE/big/1.0.0/big.bin")
UP_PEAK=$(stop_sampler "$TMP/rss-upload")
UP_HWM=$(status_kib VmHWM)
[[ $UP_CODE == 201 ]] || die "upload answered $UP_CODE: $(cat "$TMP/upload-body")"
UP_MBS=$(calc "$UP_SPEED / $MiB")
printf '  %s MiB/s, %ss wall; RSS before %s MiB, peak sampled %s MiB, VmHWM after %s MiB\n' \
    "$UP_MBS" "$UP_TIME" "$(mib "$UP_BEFORE")" "$(mib "$UP_PEAK")" "$(mib "$UP_HWM")"

# ---------------------------------------------------------------------------- large download

say "download ${SIZE_MB} MiB to /dev/null"
DOWN_BEFORE=$(status_kib VmRSS)
start_sampler "$TMP/rss-download"
read -r DOWN_CODE DOWN_SPEED DOWN_TIME DOWN_SIZE < <(curl -s -o /dev/null \
    -w '%{http_code} %{speed_download} %{time_total} %{size_download}\n' "$BASE/big/1.0.0/big.bin")
DOWN_PEAK=$(stop_sampler "$TMP/rss-download")
DOWN_HWM=$(status_kib VmHWM)
[[ $DOWN_CODE == 200 && $DOWN_SIZE == "$SIZE" ]] || die "download answered $DOWN_CODE with $DOWN_SIZE bytes"
DOWN_MBS=$(calc "$DOWN_SPEED / $MiB")
printf '  %s MiB/s, %ss wall; RSS before %s MiB, peak sampled %s MiB, VmHWM after %s MiB\n' \
    "$DOWN_MBS" "$DOWN_TIME" "$(mib "$DOWN_BEFORE")" "$(mib "$DOWN_PEAK")" "$(mib "$DOWN_HWM")"

# A suffix range is what `curl -C -` resumes look like near the end of a file.
RANGE_MB=$((SIZE_MB < 100 ? SIZE_MB : 100))
say "ranged download: last $RANGE_MB MiB"
read -r RANGE_CODE RANGE_SPEED RANGE_TIME RANGE_SIZE < <(curl -s -o /dev/null -r "-$((RANGE_MB * MiB))" \
    -w '%{http_code} %{speed_download} %{time_total} %{size_download}\n' "$BASE/big/1.0.0/big.bin")
[[ $RANGE_CODE == 206 && $RANGE_SIZE == $((RANGE_MB * MiB)) ]] \
    || die "ranged download answered $RANGE_CODE with $RANGE_SIZE bytes"
RANGE_MBS=$(calc "$RANGE_SPEED / $MiB")
printf '  %s MiB/s, %ss wall\n' "$RANGE_MBS" "$RANGE_TIME"

# ---------------------------------------------------------------------------- small GETs

say "$GETS small GETs (1 KiB file, anonymous, keep-alive)"
head -c 1024 /dev/urandom >"$TMP/small.bin"
code=$(curl -s -o /dev/null -w '%{http_code}' "${AUTH[@]}" --upload-file "$TMP/small.bin" "$BASE/small/1.0.0/small.bin")
[[ $code == 201 ]] || die "small upload answered $code"
SMALL=$BASE/small/1.0.0/small.bin

# Each GET authenticates, looks up the owner, instantiates the plugin for match-route,
# reads SQLite and streams the blob: that whole path is what req/s measures.
# One curl process drives all requests so process start-up is not measured; its
# config file gives every URL its own /dev/null output.
for _ in $(seq "$GETS"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$SMALL"; done >"$TMP/urls.curl"
small_gets() { # OUTFILE [curl options...] -> one "code seconds" line per request
    local out=$1
    shift
    curl -s "$@" -K "$TMP/urls.curl" -w '%{http_code} %{time_total}\n' >"$out"
}
# Per-request latency percentiles from curl's own timings.
latency() { # FILE PERCENTILE -> ms
    awk '{print $2}' "$1" | sort -n | awk -v p="$2" '{ v[NR] = $1 } END { i = int(NR * p / 100); if (i < 1) i = 1; printf "%.2f", v[i] * 1000 }'
}
ok_count() { awk '$1 == 200' "$1" | wc -l; }

small_gets "$TMP/warm" # warm-up: connection, SQLite cache, allocator
timed small_gets "$TMP/seq"
SEQ_RPS=$(calc "$GETS / $ELAPSED" 0)
printf '  1 connection:   %6s req/s  p50 %s ms  p99 %s ms  (%s/%s were 200)\n' \
    "$SEQ_RPS" "$(latency "$TMP/seq" 50)" "$(latency "$TMP/seq" 99)" "$(ok_count "$TMP/seq")" "$GETS"
timed small_gets "$TMP/par" --parallel --parallel-immediate --parallel-max 20
PAR_RPS=$(calc "$GETS / $ELAPSED" 0)
printf '  20 connections: %6s req/s  p50 %s ms  p99 %s ms  (%s/%s were 200)\n' \
    "$PAR_RPS" "$(latency "$TMP/par" 50)" "$(latency "$TMP/par" 99)" "$(ok_count "$TMP/par")" "$GETS"

WRK_RPS=
if command -v wrk >/dev/null; then
    # wrk keeps 20 connections busy for 10 s, which curl cannot quite do from one process.
    WRK_RPS=$(wrk -t2 -c20 -d10s "$SMALL" | awk '/^Requests\/sec:/ {printf "%.0f", $2}')
    printf '  wrk -t2 -c20:   %6s req/s\n' "$WRK_RPS"
fi

# ---------------------------------------------------------------------------- metrics cost

# The small GET again, against the server with `[metrics] enabled = false` and with
# metrics on (the default), alternating round by round so that load from elsewhere on
# the machine falls on both alike. Each start is a fresh registry (the bootstrap token
# is printed only once) that keeps the compiled plugin.
restart_generic() { # METRICS
    stop_pid "$WHARF_PID"
    find "$TMP/wharf-data" -mindepth 1 -maxdepth 1 ! -name plugin-cache -exec rm -rf {} +
    serve_generic "$1" >/dev/null
    code=$(curl -s -o /dev/null -w '%{http_code}' "${AUTH[@]}" --upload-file "$TMP/small.bin" "$SMALL")
    [[ $code == 201 ]] || die "small upload answered $code"
    wrk -t2 -c20 -d2s "$SMALL" >/dev/null # warm-up
}
METRICS_OFF_RPS=
if command -v wrk >/dev/null; then
    say "metrics cost: small GETs with metrics off and on ($METRICS_ROUNDS rounds, wrk -t2 -c20 -d${METRICS_SECS}s each)"
    for round in $(seq "$METRICS_ROUNDS"); do
        for metrics in false true; do
            restart_generic "$metrics"
            rps=$(wrk -t2 -c20 -d"$METRICS_SECS"s "$SMALL" | awk '/^Requests\/sec:/ {printf "%.0f", $2}')
            echo "$rps" >>"$TMP/metrics-$metrics"
            printf '  round %s, metrics %-5s %6s req/s\n' "$round" "$metrics" "$rps"
        done
    done
    median() { stats <"$1" | awk '{ printf "%.0f", $2 }'; }
    METRICS_OFF_RPS=$(median "$TMP/metrics-false")
    METRICS_ON_RPS=$(median "$TMP/metrics-true")
    METRICS_RATIO=$(calc "$METRICS_ON_RPS / $METRICS_OFF_RPS" 3)
    printf '  median: off %s req/s, on %s req/s, on/off %s (budget: at least 0.95)\n' \
        "$METRICS_OFF_RPS" "$METRICS_ON_RPS" "$METRICS_RATIO"
fi

# ---------------------------------------------------------------------------- summary

say "summary ($(nproc) CPUs, ${SIZE_MB} MiB random file, loopback, warm cache)"
row() { printf '  %-34s %14s   %s\n' "$@"; }
row "what" "figure" "compared with"
row "upload (PUT, 201)" "$UP_MBS MiB/s" "$(calc "$UP_MBS / $SHA_MBS" 2)x sha256sum, $(calc "$UP_MBS / $DD_MBS" 2)x dd+fsync"
row "upload wall time" "${UP_TIME}s" ""
row "download (GET, 200)" "$DOWN_MBS MiB/s" "$(calc "$DOWN_MBS / $CAT_MBS" 2)x cat"
row "ranged download (last $RANGE_MB MiB)" "$RANGE_MBS MiB/s" ""
row "RSS idle" "$(mib "$IDLE_KIB") MiB" ""
row "RSS peak during upload" "$(mib "$UP_PEAK") MiB" "VmHWM after: $(mib "$UP_HWM") MiB"
row "RSS peak during download" "$(mib "$DOWN_PEAK") MiB" "VmHWM after: $(mib "$DOWN_HWM") MiB"
row "small GETs, 1 connection" "$SEQ_RPS req/s" "$GETS requests"
row "small GETs, 20 connections" "$PAR_RPS req/s" "$GETS requests"
if [[ -n $WRK_RPS ]]; then row "small GETs, wrk -t2 -c20 -d10s" "$WRK_RPS req/s" ""; fi
if [[ -n $METRICS_OFF_RPS ]]; then
    row "small GETs, metrics off (median)" "$METRICS_OFF_RPS req/s" "wrk -t2 -c20 -d${METRICS_SECS}s x $METRICS_ROUNDS"
    row "small GETs, metrics on (median)" "$METRICS_ON_RPS req/s" "on/off $METRICS_RATIO"
fi
row "baseline cat" "$CAT_MBS MiB/s" ""
row "baseline sha256sum" "$SHA_MBS MiB/s" ""
row "baseline dd conv=fsync" "$DD_MBS MiB/s" ""
