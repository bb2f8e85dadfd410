# shellcheck shell=bash
# Helpers shared by the benchmark scripts in this folder, which `source` it. It only
# defines ROOT, PASSWORD and functions; nothing runs until a script calls it.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PASSWORD=bench-admin-password

# ---------------------------------------------------------------------------- helpers

say() { printf '\n== %s\n' "$*"; }
die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }
# Floating-point arithmetic; bash has integers only.
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }

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

# ---------------------------------------------------------------------------- memory

status_kib() { # FIELD -> value in KiB of the server's /proc status line
    local key value _
    while read -r key value _; do
        [[ $key == "$1:" ]] && { echo "$value"; return; }
    done <"/proc/$WHARF_PID/status"
    echo 0
}
# VmHWM only ever grows, so it cannot tell which phase set the peak; a 50 ms VmRSS
# sampler per phase can. The loop reads /proc with bash builtins so the sampler
# itself costs next to nothing on a small machine.
start_sampler() { # OUTFILE
    local out=$1
    echo 0 >"$out"
    (
        # A subshell starts with the parent's traps until it resets them; the cleanup
        # trap must only ever run in the parent.
        trap - EXIT INT TERM
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
