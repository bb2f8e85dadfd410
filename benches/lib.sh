# shellcheck shell=bash
# Helpers shared by the benchmark scripts in this folder, which `source` it. It only
# defines ROOT, PASSWORD, TICKS_PER_S and functions; nothing runs until a script calls it.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PASSWORD=bench-admin-password
# shellcheck disable=SC2034 # for the scripts: the unit of cpu_ticks
TICKS_PER_S=$(getconf CLK_TCK)

# ---------------------------------------------------------------------------- helpers

say() { printf '\n== %s\n' "$*"; }
die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }
# Floating-point arithmetic; bash has integers only.
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }
now() { date +%s.%N; }
mib() { calc "$1 / 1024" 1; } # KiB -> MiB
stats() { # reads one number per line -> "min median"
    sort -n | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
        printf "%.1f %.1f", v[1], m }'
}

require() { # TOOL...
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || die "$tool is required"
    done
}

# A free port: bash can probe with /dev/tcp without extra tools. The gap between the
# probe and the server's bind is a race in theory only on a benchmark machine.
free_port() {
    local port
    for _ in $(seq 50); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    die "no free port found"
}

# A server may not be our child (Verdaccio is started by a setup script), so its exit
# is seen by polling; once dead it stays a zombie until init reaps it, which can take
# a while.
alive() { # PID
    local state
    state=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $state != Z* ]]
}
stop_pid() { # PID
    local pid=$1
    alive "$pid" || return 0
    # SIGTERM is the graceful path the server documents; wait so its files are closed
    # before they are deleted.
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do alive "$pid" || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------------------- cleanup

# bench_tmp NAME: creates the scratch directory $TMP and arranges for it to be deleted,
# and Wharf stopped, on exit. A script with more to stop defines `teardown`, which
# runs first.
TMP=
WHARF_PID=
NGINX_PID=
SAMPLER_PID=
bench_tmp() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    trap cleanup EXIT
    trap 'exit 130' INT TERM
}
cleanup() {
    if declare -F teardown >/dev/null; then teardown; fi
    if [[ -n $NGINX_PID ]]; then stop_pid "$NGINX_PID"; fi
    if [[ -n $WHARF_PID ]]; then stop_pid "$WHARF_PID"; fi
    rm -rf "$TMP"
}

# ---------------------------------------------------------------------------- wharf

# find_wharf: sets BIN to $WHARF_BIN if given, else builds the release server.
find_wharf() {
    if [[ -n ${WHARF_BIN:-} ]]; then
        BIN=$WHARF_BIN
    else
        say "building the release server"
        (cd "$ROOT" && cargo build --release -p wharf)
        BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/wharf
    fi
    [[ -x $BIN ]] || die "no server binary at $BIN"
}

# start_wharf PORT <CONFIG: starts $BIN on 127.0.0.1:PORT with the registry.toml read
# from stdin and a fresh data directory in $TMP; sets WHARF_PID and WHARF_URL. Its
# output goes to $TMP/wharf.stdout and $TMP/wharf.stderr.
start_wharf() {
    local port=$1
    WHARF_URL=http://127.0.0.1:$port
    # Our own config file, so a registry.toml in the working directory cannot change
    # what is measured.
    cat >"$TMP/registry.toml"
    say "starting $BIN on 127.0.0.1:$port"
    WHARF_LISTEN=127.0.0.1:$port WHARF_DATA_DIR=$TMP/wharf-data WHARF_PUBLIC_URL=$WHARF_URL \
        WHARF_ADMIN_PASSWORD=$PASSWORD "$BIN" serve --config "$TMP/registry.toml" \
        >"$TMP/wharf.stdout" 2>"$TMP/wharf.stderr" &
    WHARF_PID=$!
}

# wait_wharf URL [CURL_OPTION...]: waits until the server started by start_wharf is
# ready and sets TOKEN to the admin token it printed. Ready = the token was printed
# and `curl -s CURL_OPTION... URL` succeeds (first start compiles the plugin, which
# takes a while in a debug build).
wait_wharf() {
    local url=$1
    shift
    TOKEN=
    for _ in $(seq 1200); do
        kill -0 "$WHARF_PID" 2>/dev/null || { cat "$TMP/wharf.stderr" >&2; die "wharf exited during startup"; }
        TOKEN=$(sed -n 's/^  token: *\(wharf_[^ ]*\)$/\1/p' "$TMP/wharf.stdout")
        if [[ -n $TOKEN ]] && curl -s "$@" -o /dev/null "$url"; then break; fi
        sleep 0.1
    done
    [[ -n $TOKEN ]] || die "no bootstrap token on wharf's stdout: $(cat "$TMP/wharf.stdout")"
}

# start_named NAME CONFIG: one more Wharf ($BIN) with a fresh data dir in $TMP/NAME and
# the registry.toml CONFIG, on a free port; sets PORT and STARTED_PID once it is ready.
# For scripts that run several servers (a proxy and its upstream); WHARF_LOG applies.
# It waits START_SECS (default 60) for readiness: a debug build's first start compiles
# every plugin, which takes minutes on a busy machine.
start_named() {
    PORT=$(free_port)
    rm -rf "${TMP:?}/$1"
    mkdir -p "$TMP/$1"
    printf '%s\n' "$2" >"$TMP/$1/registry.toml"
    WHARF_LISTEN=127.0.0.1:$PORT WHARF_DATA_DIR=$TMP/$1/data WHARF_PUBLIC_URL=http://127.0.0.1:$PORT \
        WHARF_ADMIN_PASSWORD=$PASSWORD "$BIN" serve --config "$TMP/$1/registry.toml" \
        >"$TMP/$1/stdout" 2>"$TMP/$1/stderr" &
    STARTED_PID=$!
    for _ in $(seq $((${START_SECS:-60} * 10))); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/readyz" && return; sleep 0.1; done
    die "$1 did not start: $(tail -3 "$TMP/$1/stderr")"
}

# ---------------------------------------------------------------------------- memory

status_kib() { # FIELD -> value in KiB of the server's /proc status line
    local key value _
    while read -r key value _; do
        [[ $key == "$1:" ]] && { echo "$value"; return; }
    done <"/proc/$WHARF_PID/status"
    echo 0
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$WHARF_PID/stat"; } # server's user + system

# VmHWM only ever grows, so it cannot tell which phase set the peak; a 50 ms VmRSS
# sampler per phase can. The loop reads /proc with bash builtins so the sampler
# itself costs next to nothing on a small machine.
start_sampler() { # OUTFILE
    local out=$1
    echo 0 >"$out"
    (
        # A subshell starts with the parent's traps until it resets them; the cleanup
        # trap must only ever run in the parent. stop_sampler's TERM is handled between
        # commands, never half-way through the write below (which would leave the
        # file truncated and empty).
        trap - EXIT INT
        trap 'exit 0' TERM
        max=0
        while kill -0 "$WHARF_PID" 2>/dev/null; do
            rss=$(status_kib VmRSS)
            if ((rss > max)); then max=$rss; echo "$max" >"$out"; fi
            sleep 0.05
        done
    ) &
    SAMPLER_PID=$!
}
stop_sampler() { # OUTFILE -> peak KiB seen
    kill "$SAMPLER_PID" 2>/dev/null || true
    wait "$SAMPLER_PID" 2>/dev/null || true
    # Called as $(stop_sampler …), this runs in a subshell, whose `wait` cannot wait for
    # its parent's child; so also wait until the sampler is gone (or a zombie), lest
    # the file be read half-written.
    for _ in $(seq 100); do alive "$SAMPLER_PID" || break; sleep 0.01; done
    cat "$1"
}

# ---------------------------------------------------------------------------- nginx

# start_nginx FILE [HTTP_DIRECTIVES]: nginx serving the files of $TMP/nginx/www (the
# caller puts them there) as the "loopback speed" reference; sets NGINX_PID and
# NGINX_URL, and fails unless FILE is served with the same bytes. Scripts stop it in
# their teardown. Run as root, nginx's workers would be `nobody`, which cannot enter
# the private $TMP (and would answer 403 to every request).
start_nginx() {
    local file=$1 directives=${2:-} port
    port=$(free_port)
    mkdir -p "$TMP/nginx/logs"
    cat >"$TMP/nginx/nginx.conf" <<CONF
$(if ((EUID == 0)); then echo "user root;"; fi)
worker_processes $(nproc);
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  $directives
  server { listen 127.0.0.1:$port; root $TMP/nginx/www; }
}
CONF
    nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" &
    NGINX_PID=$!
    NGINX_URL=http://127.0.0.1:$port
    for _ in $(seq 50); do curl -sf -o /dev/null "$NGINX_URL/$file" && break; sleep 0.1; done
    cmp -s <(curl -s "$NGINX_URL/$file") "$TMP/nginx/www/$file" \
        || die "nginx does not serve $file: $(tail -3 "$TMP/nginx/logs/error.log")"
}

# ---------------------------------------------------------------------------- wrk

# wrk_run SERVER NAME URL [HEADER...]: a WARMUP-second warm-up, then a DURATION-second
# run with wrk -tTHREADS -cCONNS --latency (the caller sets those four); appends
# "SERVER NAME req/s=… p50_ms=… p99_ms=… n=… non2xx=… bytes=… errors=…" to
# $TMP/wrk.out and prints it. bytes = the body of one curl GET with the same headers
# (compressed if a header asked for it); non2xx = wrk's count of responses that were
# neither 2xx nor 3xx; errors = wrk's error lines (socket errors included), or none.
wrk_ms() { awk '{ v = $1; if (v ~ /us$/) v /= 1000; else if (v ~ /ms$/) v += 0; else if (v ~ /s$/) v *= 1000; printf "%.2f", v }'; }
wrk_run() {
    local server=$1 name=$2 url=$3 hdr=() h out
    shift 3
    for h in "$@"; do hdr+=(-H "$h"); done
    wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP"s --timeout 30s "${hdr[@]}" "$url" >/dev/null
    out=$TMP/wrk-$server-$name
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION"s --timeout 30s --latency "${hdr[@]}" "$url" >"$out"
    local rps n p50 p99 non2xx bytes errors
    rps=$(awk '/^Requests\/sec/ { print $2 }' "$out")
    n=$(awk '/requests in/ { print $1 }' "$out")
    p50=$(awk '$1 == "50%" { print $2 }' "$out" | wrk_ms)
    p99=$(awk '$1 == "99%" { print $2 }' "$out" | wrk_ms)
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
    bytes=$(curl -sg -o /dev/null -w '%{size_download}' "${hdr[@]}" "$url")
    errors=$(awk '/Non-2xx|Socket errors/ { $1 = $1; printf "%s;", $0 }' "$out" | tr ' ' '_')
    printf '%s %s req/s=%s p50_ms=%s p99_ms=%s n=%s non2xx=%s bytes=%s errors=%s\n' \
        "$server" "$name" "$rps" "$p50" "$p99" "$n" "${non2xx:-0}" "$bytes" "${errors:-none}" | tee -a "$TMP/wrk.out"
}
wrk_field() { # SERVER WORKLOAD KEY -> value of KEY=… on that line of $TMP/wrk.out
    awk -v s="$1" -v w="$2" -v k="$3" '$1 == s && $2 == w {
        for (i = 3; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit } }' "$TMP/wrk.out"
}
