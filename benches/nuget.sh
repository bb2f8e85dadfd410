#!/usr/bin/env bash
# NuGet figures for Wharf: the registration index and search of a package with N
# versions (3,000 by default: the case that took Gitea over 100 s), under load and on a
# cache miss.
#
# 1. Seeds `Big.Package` with N versions (a few of them prereleases) and PKGS small
#    packages `Pkg.1` … (so search has something to filter), pushed as NuGet.exe does:
#    `PUT {feed}/` with `X-NuGet-ApiKey` and a multipart body. The nupkgs are tiny but
#    valid (a nuspec with two dependency groups, one content file), built by one python3
#    run. Wall time, pushes/s, and curl's median push time early and late in the seed.
# 2. wrk -tTHREADS -cCONNS on the registration index (N versions: pages of 64 linked,
#    not inlined), its first page, one registration leaf, the flat-container version
#    list, search (`q=big`, all N versions of the hit; cached until a package of the
#    feed changes) plain and gzipped, v2 `FindPackagesById()` and one nupkg download: req/s, wrk's p50/p99,
#    body size, non-2xx responses, the server's peak RSS and CPU per workload.
# 3. nginx serving the same registration index and search bytes from static files (no
#    NuGet peer server runs offline here, so nginx is the loopback baseline).
# 4. Cache-miss renders: the host caches a package's rendered indexes until the package
#    changes (searches: until any package of the feed changes), so each timed GET
#    follows the push of a new version.
#
# It prints numbers and checks nothing beyond "every request of the workload worked":
# the assertions live in `cargo test`.
#
# Usage: benches/nuget.sh
# Environment (all optional):
#   WHARF_BIN          server binary to use; skips `cargo build --release`
#   N                  versions of Big.Package (default 3000)
#   PKGS               other packages, one version each (default 50)
#   CONNS THREADS DURATION WARMUP
#                      wrk settings (defaults 20, 2, 15 s, 3 s)
#   COLD_RUNS          cache-miss renders timed per document (default 5)
#   SEED_PARALLEL      curl processes pushing in parallel while seeding (default 4)
#   WHARF_LOG          server log filter (default: the server's own, `info`)
#
# Needs python3, curl and wrk; nginx is optional. About 5 minutes with the defaults,
# most of it the 11 wrk runs (DURATION + WARMUP each) and the seeding.

set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=${N:-3000}
PKGS=${PKGS:-50}
CONNS=${CONNS:-20}
THREADS=${THREADS:-2}
DURATION=${DURATION:-15}
WARMUP=${WARMUP:-3}
COLD_RUNS=${COLD_RUNS:-5}
PARALLEL=${SEED_PARALLEL:-4}

ID=Big.Package
LID=${ID,,} # NuGet URLs carry lower-case ids and versions
LEAF_VERSION=1.0.0
# Per cache-miss round, one push before each of these documents.
COLD_DOCS=(reg-index reg-page reg-leaf flat search)

# ---------------------------------------------------------------------------- helpers

# The server logs one line per answered request (host/src/http/mod.rs, at info):
#   … INFO wharf::http: request method=GET path=/… status=200 ms="0.42"
# possibly with ANSI colours; a phase is the lines written between two marks.
log_lines() { wc -l <"$TMP/wharf.stderr"; }
log_since() { tail -n +"$(($1 + 1))" "$TMP/wharf.stderr" | sed 's/\x1b\[[0-9;]*m//g'; }
# -> "STATUS MS" per request logged after MARK
requests_since() { # MARK
    log_since "$1" | awk '/ request / {
        s = t = ""
        for (i = 1; i <= NF; i++) {
            if ($i ~ /^status=/) s = substr($i, 8)
            else if ($i ~ /^ms=/) { t = substr($i, 4); gsub(/"/, "", t) }
        }
        if (s != "") print s, (t == "" ? 0 : t) }'
}

# A phase: wall time, the server's peak RSS and CPU time, the requests it logged.
# Results go to the associative arrays below, keyed by the phase name.
declare -A WALL RSS CPU
PHASE_T0=0 PHASE_TICKS=0 PHASE_MARK=0
phase_start() { # NAME
    PHASE_MARK=$(log_lines)
    PHASE_TICKS=$(cpu_ticks)
    start_sampler "$TMP/rss-$1"
    PHASE_T0=$(now)
}
phase_end() { # NAME
    WALL[$1]=$(calc "$(now) - $PHASE_T0" 1)
    RSS[$1]=$(stop_sampler "$TMP/rss-$1")
    CPU[$1]=$(calc "($(cpu_ticks) - $PHASE_TICKS) / $TICKS_PER_S" 2)
    requests_since "$PHASE_MARK" >"$TMP/requests-$1"
    log_since "$PHASE_MARK" | grep -E ' (WARN|ERROR) ' >"$TMP/problems-$1" || true
}
# What the server logged in a phase, if anything went wrong: requests that were not
# 2xx by status, and its warnings and errors (the first few distinct ones).
report_problems() { # NAME
    local bad
    bad=$(awk '$1 !~ /^2/ { c[$1]++ } END { for (k in c) printf "%s%s x%d", n++ ? ", " : "", k, c[k] }' "$TMP/requests-$1")
    if [[ -n $bad ]]; then echo "  server: not 2xx: $bad"; fi
    if [[ -s $TMP/problems-$1 ]]; then
        echo "  server: $(wc -l <"$TMP/problems-$1") warnings/errors logged, e.g.:"
        sed 's/^[^ ]* *//' "$TMP/problems-$1" | sort | uniq -c | sort -rn | head -3 | cut -c1-300 | sed 's/^/    /'
    fi
}

# settle: waits (at most 120 s) until the server is idle (under 10 % of a core over
# half a second). A slow workload leaves requests queued in the server when wrk stops,
# and the server works through them after wrk has gone; without this, that backlog
# would land in the next workload's figures.
settle() {
    local t0 ticks waited=0
    t0=$(now)
    for _ in $(seq 240); do
        ticks=$(cpu_ticks)
        sleep 0.5
        (($(cpu_ticks) - ticks < TICKS_PER_S / 20)) && break
        waited=1
    done
    if ((waited)); then printf '  (waited %s s for the server to go idle)\n' "$(calc "$(now) - $t0" 1)"; fi
}

# ---------------------------------------------------------------------------- cleanup

# Run by cleanup (lib.sh), which then stops nginx and Wharf.
teardown() {
    if [[ -n $SAMPLER_PID ]]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
}
bench_tmp wharf-nuget-bench

# ---------------------------------------------------------------------------- prerequisites

require python3 curl wrk
find_wharf

# ---------------------------------------------------------------------------- packages

# Every nupkg is built up front, in one python3 run: seed/big-I.nupkg (I = 0 … N-1),
# seed/pkg-J.nupkg (J = 1 … PKGS) and cold/cold-K.nupkg (K = 1 …, version 100.0.K: one
# per cache-miss GET, sorting after every seeded version so the first registration page
# keeps its URL). Versions run 1.0.0, 1.0.1, … 1.0.9, 1.1.0, … (as npm.sh and maven.sh
# number theirs); every 50th, from the 26th, is a prerelease instead (`1.2.5-preview.3`).
say "building $N + $PKGS + $((COLD_RUNS * ${#COLD_DOCS[@]})) nupkgs in $TMP"
mkdir -p "$TMP/seed" "$TMP/cold"
python3 - "$TMP" "$ID" "$N" "$PKGS" "$((COLD_RUNS * ${#COLD_DOCS[@]}))" <<'PY'
import sys, zipfile

tmp, big, n, pkgs, cold = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])

def version(i):
    v = f"{1 + i // 100}.{i // 10 % 10}.{i % 10}"
    return f"{v}-preview.{i % 7}" if i % 50 == 25 else v

def nuspec(pid, v, i):
    return f"""<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>{pid}</id>
    <version>{v}</version>
    <title>{pid}</title>
    <authors>Alice Example, Bob Example</authors>
    <description>Version {v} of {pid}, a synthetic package used to benchmark NuGet feeds with many versions.</description>
    <license type="expression">MIT</license>
    <projectUrl>https://example.com/{pid.lower()}</projectUrl>
    <tags>benchmark registry nuget synthetic</tags>
    <dependencies>
      <group targetFramework="net8.0">
        <dependency id="Newtonsoft.Json" version="13.0.{i % 4}" />
        <dependency id="Serilog" version="[3.{i % 3}.0, 4.0.0)" exclude="Build,Analyzers" />
      </group>
      <group targetFramework="netstandard2.0">
        <dependency id="System.Text.Json" version="8.0.{i % 5}" />
        <dependency id="Microsoft.Extensions.Logging.Abstractions" version="8.0.0" />
        <dependency id="Pkg.1" version="1.0.0" />
      </group>
    </dependencies>
  </metadata>
</package>
"""

CONTENT_TYPES = """<?xml version="1.0" encoding="utf-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
  <Default Extension="nuspec" ContentType="application/octet" />
  <Default Extension="txt" ContentType="application/octet" />
</Types>
"""

def nupkg(path, pid, v, i):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{pid}.nuspec", nuspec(pid, v, i))
        z.writestr("content/readme.txt", f"{pid} {v}\n" * 20)
        z.writestr("[Content_Types].xml", CONTENT_TYPES)

for i in range(n):
    nupkg(f"{tmp}/seed/big-{i}.nupkg", big, version(i), i)
for j in range(1, pkgs + 1):
    nupkg(f"{tmp}/seed/pkg-{j}.nupkg", f"Pkg.{j}", "1.0.0", j)
for k in range(1, cold + 1):
    nupkg(f"{tmp}/cold/cold-{k}.nupkg", big, f"100.0.{k}", k)
PY
printf '  %s bytes per nupkg (the first)\n' "$(stat -c %s "$TMP/seed/big-0.nupkg")"

# ---------------------------------------------------------------------------- wharf

PORT=$(free_port)
start_wharf "$PORT" <<'TOML'
[formats.nuget]
mount = "/api/packages/{owner}/nuget"
TOML
BASE=$WHARF_URL/api/packages/admin/nuget
wait_wharf "$BASE/index.json" -f
grep -q RegistrationsBaseUrl < <(curl -sf "$BASE/index.json") \
    || die "no NuGet service index at $BASE/index.json (is the nuget format in $BIN?)"
IDLE_KIB=$(status_kib VmRSS)
printf '  ready (pid %s); idle RSS %s MiB\n' "$WHARF_PID" "$(mib "$IDLE_KIB")"

# ---------------------------------------------------------------------------- seed

# push_config FILE...: curl config pushing each FILE as NuGet.exe does (multipart part
# `package`, the key in X-NuGet-ApiKey, no `Expect: 100-continue`), one transfer per
# file; `next` separates them, and one curl process keeps its connection alive across
# them.
push_config() {
    local file sep=
    for file in "$@"; do
        printf '%surl = "%s/"\nrequest = "PUT"\nheader = "X-NuGet-ApiKey: %s"\nheader = "Expect:"\n' "$sep" "$BASE" "$TOKEN"
        printf 'form = "package=@%s;type=application/octet-stream"\noutput = "/dev/null"\n' "$file"
        printf 'write-out = "%%{http_code} %%{time_total} %s\\n"\n' "${file##*/}"
        sep=$'next\n'
    done
}

# push_all NAME FILE...: pushes the files with PARALLEL curl processes (file i goes to
# worker i % PARALLEL, so each worker's pushes are in order), in a phase NAME; dies
# unless every push answered 201. Worker outputs: $TMP/push/NAME/W.out, lines "code
# seconds file" in push order.
push_all() {
    local name=$1 files=("${@:2}") dir=$TMP/push/$1 w i pids=() pid worker bad
    mkdir -p "$dir"
    for ((w = 0; w < PARALLEL; w++)); do
        worker=()
        for ((i = w; i < ${#files[@]}; i += PARALLEL)); do worker+=("${files[i]}"); done
        if ((${#worker[@]} > 0)); then push_config "${worker[@]}" >"$dir/$w.curl"; fi
    done
    phase_start "$name"
    for ((w = 0; w < PARALLEL; w++)); do
        [[ -f $dir/$w.curl ]] || continue
        curl -s -K "$dir/$w.curl" >"$dir/$w.out" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || true; done
    phase_end "$name"
    bad=$(cat "$dir"/*.out | awk '$1 != 201')
    [[ -z $bad ]] || die "$(wc -l <<<"$bad") of ${#files[@]} pushes failed (code seconds file): $(head -5 <<<"$bad")"
    (($(cat "$dir"/*.out | wc -l) == ${#files[@]})) || die "not every push of $name was made"
}

say "seeding $ID with $N versions ($PARALLEL curl processes, keep-alive)"
files=()
for ((i = 0; i < N; i++)); do files+=("$TMP/seed/big-$i.nupkg"); done
push_all seed "${files[@]}"
SEED_RATE=$(calc "$N / ${WALL[seed]}" 0)
printf '  %s s wall, %s pushes/s; server peak RSS %s MiB, CPU %s s\n' \
    "${WALL[seed]}" "$SEED_RATE" "$(mib "${RSS[seed]}")" "${CPU[seed]}"
# A push whose cost grows with the versions already stored shows here. Each worker's
# output is in push order, so its first and last tenth are early and late pushes.
tenth_ms() { # head|tail -> median curl time of that tenth of every worker's pushes, ms
    local f
    for f in "$TMP"/push/seed/*.out; do
        "$1" -n "$((($(wc -l <"$f") + 9) / 10))" "$f"
    done | awk '{ print $2 * 1000 }' | stats | cut -d' ' -f2
}
SEED_EARLY_MS=$(tenth_ms head)
SEED_LATE_MS=$(tenth_ms tail)
printf '  median push (curl): first 10%% of versions %s ms, last 10%% %s ms\n' "$SEED_EARLY_MS" "$SEED_LATE_MS"

say "seeding $PKGS other packages (Pkg.1 …, one version each)"
files=()
for ((j = 1; j <= PKGS; j++)); do files+=("$TMP/seed/pkg-$j.nupkg"); done
if ((PKGS > 0)); then
    push_all others "${files[@]}"
    printf '  %s s wall\n' "${WALL[others]}"
fi

# ---------------------------------------------------------------------------- documents

get() { # PATH OUTFILE [HEADER]: GET $BASE/PATH into OUTFILE; dies unless 200
    local code hdr=()
    if [[ -n ${3:-} ]]; then hdr=(-H "$3"); fi
    code=$(curl -sg -o "$2" -w '%{http_code}' "${hdr[@]}" "$BASE/$1")
    [[ $code == 200 ]] || die "GET $BASE/$1 ${3:+($3) }answered $code: $(head -c 300 "$2")"
}
json() { # FILE PYTHON-EXPRESSION over `d` (the parsed document) -> its value
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

get "registration/$LID/index.json" "$TMP/reg-index.json"
PAGES=$(json "$TMP/reg-index.json" 'd["count"]')
INLINE=$(json "$TMP/reg-index.json" 'sum(len(p.get("items") or []) for p in d["items"])')
FIRST_PAGE=$(json "$TMP/reg-index.json" 'd["items"][0]["@id"]')
[[ $FIRST_PAGE == "$BASE/"* ]] || die "the first page's @id $FIRST_PAGE is not under $BASE"
PAGE_PATH=${FIRST_PAGE#"$BASE/"}
get "$PAGE_PATH" "$TMP/reg-page.json"
PAGE_LEAVES=$(json "$TMP/reg-page.json" 'len(d["items"])')
get "registration/$LID/$LEAF_VERSION.json" "$TMP/reg-leaf.json"
get "package/$LID/index.json" "$TMP/flat.json"
FLAT_VERSIONS=$(json "$TMP/flat.json" 'len(d["versions"])')
[[ $FLAT_VERSIONS == "$N" ]] || die "the flat container lists $FLAT_VERSIONS versions, not $N"
SEARCH="query?q=big&take=20&prerelease=true"
get "$SEARCH" "$TMP/search.json"
SEARCH_HITS=$(json "$TMP/search.json" 'd["totalHits"]')
SEARCH_VERSIONS=$(json "$TMP/search.json" 'sum(len(h["versions"]) for h in d["data"])')
GZIP='Accept-Encoding: gzip'
get "$SEARCH" "$TMP/search.json.gz" "$GZIP"
if cmp -s <(gunzip -c "$TMP/search.json.gz" 2>/dev/null) "$TMP/search.json"; then
    SEARCH_GZIP=1
else
    SEARCH_GZIP= # not compressed, or the gzip is of a different body
fi
V2="FindPackagesById()?id='$ID'&\$top=100"
get "$V2" "$TMP/v2.xml"
V2_ENTRIES=$(grep -o '<entry' "$TMP/v2.xml" | wc -l)
NUPKG="package/$LID/$LEAF_VERSION/$LID.$LEAF_VERSION.nupkg"
get "$NUPKG" "$TMP/leaf.nupkg"
cmp -s "$TMP/leaf.nupkg" "$TMP/seed/big-0.nupkg" || die "GET $NUPKG is not the pushed nupkg"

printf '  registration index: %s pages, %s leaves inline, %s bytes; first page %s: %s leaves\n' \
    "$PAGES" "$INLINE" "$(stat -c %s "$TMP/reg-index.json")" "$PAGE_PATH" "$PAGE_LEAVES"
printf '  flat container: %s versions; search q=big: %s hits, %s versions listed, %s bytes (gzip: %s)\n' \
    "$FLAT_VERSIONS" "$SEARCH_HITS" "$SEARCH_VERSIONS" "$(stat -c %s "$TMP/search.json")" \
    "$(if [[ -n $SEARCH_GZIP ]]; then echo "$(stat -c %s "$TMP/search.json.gz") bytes"; else echo "not compressed"; fi)"
printf '  v2 %s: %s entries\n' "FindPackagesById() \$top=100" "$V2_ENTRIES"

# ---------------------------------------------------------------------------- load

# NAME PATH [HEADER], in the order they run and are reported.
WORKLOADS=(reg-index reg-page reg-leaf flat search search-gzip v2-byid nupkg)
declare -A LOAD_PATH LOAD_HEADER
LOAD_PATH=([reg-index]="registration/$LID/index.json" [reg-page]=$PAGE_PATH
    [reg-leaf]="registration/$LID/$LEAF_VERSION.json" [flat]="package/$LID/index.json"
    [search]=$SEARCH [search-gzip]=$SEARCH [v2-byid]=$V2 [nupkg]=$NUPKG)
LOAD_HEADER=([search-gzip]=$GZIP)

: >"$TMP/wrk.out"
say "wharf: wrk -t$THREADS -c$CONNS -d${DURATION}s (after ${WARMUP}s warm-up) per workload; $ID has $N versions"
for w in "${WORKLOADS[@]}"; do
    hdr=()
    if [[ -n ${LOAD_HEADER[$w]:-} ]]; then hdr=("${LOAD_HEADER[$w]}"); fi
    settle
    # One phase per workload (warm-up included), so each has its own RSS and CPU.
    phase_start "load-$w"
    wrk_run wharf "$w" "$BASE/${LOAD_PATH[$w]}" "${hdr[@]}"
    phase_end "load-$w"
    report_problems "load-$w"
done
settle

# ---------------------------------------------------------------------------- loopback baseline

# As fast as a static file server hands the same bytes to the same wrk on this machine:
# nginx with the registration index and the search answer (its gzip: the very bytes
# wharf sent, served by gzip_static).
BASELINE=(reg-index search)
if command -v nginx >/dev/null; then
    mkdir -p "$TMP/nginx/www"
    cp "$TMP/reg-index.json" "$TMP/search.json" "$TMP/nginx/www/"
    GZIP_STATIC=off
    if [[ -n $SEARCH_GZIP ]]; then
        cp "$TMP/search.json.gz" "$TMP/nginx/www/"
        GZIP_STATIC=on
        BASELINE+=(search-gzip)
    fi
    start_nginx reg-index.json "types { application/json json; } gzip_static $GZIP_STATIC;"
    say "nginx: the same wrk on static copies of the same bytes (loopback baseline)"
    wrk_run nginx reg-index "$NGINX_URL/reg-index.json"
    wrk_run nginx search "$NGINX_URL/search.json"
    if [[ -n $SEARCH_GZIP ]]; then wrk_run nginx search-gzip "$NGINX_URL/search.json" "$GZIP"; fi
    stop_pid "$NGINX_PID"
    NGINX_PID=
else
    echo "  (nginx not installed: no loopback baseline)"
fi

# ---------------------------------------------------------------------------- cold renders

timed_get() { # PATH [HEADER] -> "curl_ms server_ms" of one GET on a fresh connection
    local out hdr=() mark server=
    if [[ -n ${2:-} ]]; then hdr=(-H "$2"); fi
    mark=$(log_lines)
    out=$(curl -sg -o /dev/null -w '%{http_code} %{time_total}' "${hdr[@]}" "$BASE/$1")
    [[ ${out% *} == 200 ]] || die "GET $BASE/$1 ${2:+($2) }answered ${out% *}"
    # The server's own time: the request line it logged for this GET (written when the
    # response starts, so almost always there by now).
    for _ in $(seq 20); do
        server=$(requests_since "$mark" | tail -1 | awk '{ printf "%.1f", $2 }')
        [[ -n $server ]] && break
        sleep 0.05
    done
    echo "$(calc "${out#* } * 1000")" "${server:-0}"
}

# A push of a new version changes the package's revision, which is what the render
# cache is keyed by. The versions stay: N+1, N+2, … (100.0.K sorts after the others, so
# the first page and the leaf keep their URLs).
PUSHED=0
invalidate() {
    local code
    PUSHED=$((PUSHED + 1))
    code=$(curl -s -o "$TMP/push.body" -w '%{http_code}' -X PUT -H "X-NuGet-ApiKey: $TOKEN" -H 'Expect:' \
        -F "package=@$TMP/cold/cold-$PUSHED.nupkg;type=application/octet-stream" "$BASE/")
    [[ $code == 201 ]] || die "pushing version 100.0.$PUSHED answered $code: $(cat "$TMP/push.body")"
}

declare -A COLD
single() { # NAME PATH HEADER cold|unloaded|warm: COLD_RUNS timed GETs, each after a
    # push if cold -> COLD[NAME]="curl_min curl_median server_min server_median"
    local name=$1 path=$2 header=$3 runs=() t
    for _ in $(seq "$COLD_RUNS"); do
        if [[ $4 == cold ]]; then invalidate; fi
        runs+=("$(timed_get "$path" "$header")")
    done
    COLD[$name]="$(printf '%s\n' "${runs[@]}" | cut -d' ' -f1 | stats) $(printf '%s\n' "${runs[@]}" | cut -d' ' -f2 | stats)"
    read -r -a t <<<"${COLD[$name]}"
    printf '  %-24s curl min %7s median %7s ms   server min %7s median %7s ms\n' "$name ($4)" "${t[@]}"
}

say "wharf: single GETs on fresh connections, $COLD_RUNS each; cold = right after a push of a new version"
phase_start cold
for w in "${COLD_DOCS[@]}"; do single "$w" "${LOAD_PATH[$w]}" "" cold; done
# The same single GETs once cached, for comparison with the same connection setup.
single warm-reg-index "${LOAD_PATH[reg-index]}" "" warm
single warm-flat "${LOAD_PATH[flat]}" "" warm
single warm-search "${LOAD_PATH[search]}" "" warm
phase_end cold
printf '  server: peak RSS %s MiB, CPU %s s; %s versions of %s now\n' \
    "$(mib "${RSS[cold]}")" "${CPU[cold]}" "$((N + PUSHED))" "$ID"
report_problems cold

# ---------------------------------------------------------------------------- summary

HWM_KIB=$(status_kib VmHWM)
PEAK_KIB=0
for phase in "${!RSS[@]}"; do
    if ((RSS[$phase] > PEAK_KIB)); then PEAK_KIB=${RSS[$phase]}; fi
done

say "summary: $ID with $N versions (+ $PKGS other packages), $(nproc) CPUs (load average now $(cut -d' ' -f1-3 /proc/loadavg)), loopback, wrk -t$THREADS -c$CONNS -d${DURATION}s"
printf '  seeding: %s pushes in %s s, %s pushes/s (%s curl processes); median push %s ms early, %s ms late\n' \
    "$N" "${WALL[seed]}" "$SEED_RATE" "$PARALLEL" "$SEED_EARLY_MS" "$SEED_LATE_MS"
echo
row() { printf '  %-17s %9s %9s %9s %8s %9s %8s %8s %6s\n' "$@"; }
load_row() { # SERVER WORKLOAD LABEL RSS CPU
    local n p50=- p99=-
    n=$(wrk_field "$1" "$2" n)
    # Latencies of no completed request would read 0.
    if [[ $n != 0 ]]; then p50=$(wrk_field "$1" "$2" p50_ms) p99=$(wrk_field "$1" "$2" p99_ms); fi
    row "$3" "$(wrk_field "$1" "$2" 'req/s')" "$p50" "$p99" "$n" "$(wrk_field "$1" "$2" bytes)" \
        "$(wrk_field "$1" "$2" non2xx)" "$4" "$5"
}
row workload "req/s" "p50 ms" "p99 ms" "n" "bytes" "non-2xx" "RSS MiB" "CPU %"
for w in "${WORKLOADS[@]}"; do
    load_row wharf "$w" "$w" "$(mib "${RSS[load-$w]}")" "$(calc "100 * ${CPU[load-$w]} / ${WALL[load-$w]}" 0)"
done
for w in "${BASELINE[@]}"; do
    if [[ -n $(wrk_field nginx "$w" n) ]]; then load_row nginx "$w" "nginx $w" - -; fi
done
echo "  (latencies are wrk's; n = requests completed in the ${DURATION} s; CPU % = server CPU time"
echo "   over the workload's wall time including wrk's warm-up, 100 = one core; nginx rows:"
echo "   static copies of wharf's bytes)"
errs=$(awk '$NF != "errors=none" { print "  " $1 " " $2 ": " substr($NF, 8) }' "$TMP/wrk.out")
if [[ -n $errs ]]; then echo "  wrk reported errors:"; echo "$errs"; fi
echo
single_row() { # LABEL NAME -> the line of COLD[NAME]
    local t
    read -r -a t <<<"${COLD[$2]}"
    printf '  %-38s %16s %16s\n' "$1" "${t[0]} / ${t[1]}" "${t[2]} / ${t[3]}"
}
printf '  %-38s %16s %16s\n' "single GET, fresh connection (x$COLD_RUNS)" "curl min / med" "server min / med"
for w in "${COLD_DOCS[@]}"; do single_row "$w, cache miss after a push" "$w"; done
for w in warm-reg-index warm-flat warm-search; do single_row "${w#warm-}, cached" "$w"; done
echo
printf '  RSS: idle %s MiB, peak sampled %s MiB (seeding %s MiB), VmHWM at the end %s MiB\n' \
    "$(mib "$IDLE_KIB")" "$(mib "$PEAK_KIB")" "$(mib "${RSS[seed]}")" "$(mib "$HWM_KIB")"
