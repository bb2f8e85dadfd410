#!/usr/bin/env bash
# Maven figures for Wharf, driven by the real `mvn` (Debian's Maven 3.8.7, offline on
# the plugins Debian ships in /usr/share/maven-repo, set up as tests/maven.rs does):
#
# 1. `mvn deploy` of a MODULES-module project (a `pom` parent plus MODULES jar
#    modules with one class each), then a consumer build (`mvn compile`) that depends on
#    every module, from a local repository holding only Maven's own plugins. Wall time,
#    the requests the server saw (from its request log): count, statuses, the sum and
#    percentiles of their server-side latencies, how long the uploads of each artifact
#    took apart from the build, and Maven's warnings (a failed checksum upload is only
#    a warning to Maven). The same two builds against a file:// repository show how
#    much of the wall time is Maven itself.
# 2. The artifact-level `maven-metadata.xml` of an artifact with N versions, seeded with
#    curl PUTs (a pom and a jar per version): wrk on the document, on it gzipped (what
#    Maven asks for) and on its `.sha1`, each next to nginx serving a static copy of the
#    same bytes (there is no Maven peer registry offline here, so nginx is the loopback
#    baseline); then cache-miss renders, a new version deployed before every timed GET.
# 3. The server's peak RSS (VmRSS sampled every 50 ms) and CPU time in every phase.
#
# It prints numbers and checks nothing beyond "every request of the workload worked":
# the assertions live in `cargo test`.
#
# Usage: benches/maven.sh
# Environment (all optional):
#   WHARF_BIN          server binary to use; skips `cargo build --release`
#   MODULES            jar modules in the deployed project (default 50)
#   N                  versions of the metadata artifact (default 2000)
#   BASELINE           1 (default) also deploys and resolves through a file:// repository;
#                      0 skips that (two Maven runs, about 2 minutes)
#   CONNS THREADS DURATION WARMUP
#                      wrk settings (defaults 20, 2, 15 s, 3 s)
#   COLD_RUNS          cache-miss renders timed per document (default 5)
#   SEED_PARALLEL      curl processes seeding versions in parallel (default 4)
#   MAVEN_OPTS         JVM options for mvn (default -XX:TieredStopAtLevel=1: C1 only
#                      starts Maven about twice as fast)
#   WHARF_LOG          server log filter (default: the server's own, `info`). The request
#                      counts come from the `request` lines logged at info, so a filter
#                      that hides them leaves those columns empty.
#
# Needs mvn (Debian's maven package and its /usr/share/maven-repo), java, curl and wrk;
# nginx is optional. A run took 11 to 12 minutes on a busy 2-core machine, two thirds of
# it Maven; MODULES, N, DURATION and BASELINE=0 shorten it.

set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODULES=${MODULES:-50}
N=${N:-2000}
BASELINE=${BASELINE:-1}
CONNS=${CONNS:-20}
THREADS=${THREADS:-2}
DURATION=${DURATION:-15}
WARMUP=${WARMUP:-3}
COLD_RUNS=${COLD_RUNS:-5}
PARALLEL=${SEED_PARALLEL:-4}
export MAVEN_OPTS=${MAVEN_OPTS:--XX:TieredStopAtLevel=1}

DEBIAN_REPO=file:///usr/share/maven-repo
GROUP=com.example.bench
GROUP_PATH=${GROUP//.//}
BIG=big # the artifact with N versions

# ---------------------------------------------------------------------------- helpers

# The server logs one line per request (host/src/http/mod.rs, tracing at info):
#   … INFO wharf::http: request method=GET path=/… status=200 ms="0.42"
# possibly with ANSI colours. A phase is the log lines written between two marks.
log_lines() { wc -l <"$TMP/wharf.stderr"; }
requests_since() { # MARK -> "METHOD STATUS MS PATH SECONDS" per request logged after MARK
    # (SECONDS: the line's timestamp, seconds since midnight UTC)
    tail -n +"$(($1 + 1))" "$TMP/wharf.stderr" | sed 's/\x1b\[[0-9;]*m//g' | awk '
        / request / {
            m = s = t = p = ""
            split(substr($1, index($1, "T") + 1), hms, ":")
            at = hms[1] * 3600 + hms[2] * 60 + hms[3]
            for (i = 1; i <= NF; i++) {
                eq = index($i, "="); if (!eq) continue
                k = substr($i, 1, eq - 1); v = substr($i, eq + 1); gsub(/"/, "", v)
                if (k == "method") m = v; else if (k == "status") s = v
                else if (k == "ms") t = v; else if (k == "path") p = v
            }
            if (m != "" && s != "") printf "%s %s %s %s %.6f\n", m, s, (t == "" ? 0 : t), p, at
        }'
}

# A phase: wall time, the server's peak RSS and CPU time, and the requests it logged.
# Results go to the associative arrays below, keyed by the phase name.
declare -A WALL RSS CPU REQS SERVER_MS
PHASE_MARK=0 PHASE_T0=0 PHASE_TICKS=0
phase_start() { # NAME
    PHASE_MARK=$(log_lines)
    PHASE_TICKS=$(cpu_ticks)
    start_sampler "$TMP/rss-$1"
    PHASE_T0=$(now)
}
phase_end() { # NAME
    local name=$1
    WALL[$name]=$(calc "$(now) - $PHASE_T0" 1)
    RSS[$name]=$(stop_sampler "$TMP/rss-$name")
    CPU[$name]=$(calc "($(cpu_ticks) - $PHASE_TICKS) / $TICKS_PER_S" 2)
    requests_since "$PHASE_MARK" >"$TMP/requests-$name"
    REQS[$name]=$(wc -l <"$TMP/requests-$name")
    SERVER_MS[$name]=$(awk '{ s += $3 } END { printf "%.0f", s }' "$TMP/requests-$name")
}

server_pct() { # NAME PERCENTILE -> that percentile of the phase's server-side latencies, ms
    awk '{ print $3 }' "$TMP/requests-$1" | sort -n |
        awk -v p="$2" '{ v[NR] = $1 } END { i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; printf "%.2f", v[i] }'
}

# How long the requests of each artifact took, first to last as the server logged them,
# summed over artifacts: for a deploy, the time Maven spent uploading, apart from
# building. Reads requests-NAME; artifact = the path up to the artifactId directory.
upload_span() { # NAME -> seconds
    awk '{ if (!match($4, "/" group "/[^/]+/")) next; k = substr($4, RSTART, RLENGTH)
           if (!(k in lo) || $5 < lo[k]) lo[k] = $5; if ($5 > hi[k]) hi[k] = $5 }
         END { for (k in lo) sum += hi[k] - lo[k]; printf "%.1f", sum }' group="$GROUP_PATH" "$TMP/requests-$1"
}
span() { # NAME -> seconds from the phase's first request to its last
    awk 'NR == 1 { lo = $5 } { hi = $5 } END { printf "%.1f", hi - lo }' "$TMP/requests-$1"
}

# What the server saw in a phase: requests by method and status, latencies, and every
# failed request except 404s on maven-metadata.xml (a deploy's first read of a new
# artifact's metadata can be one; Maven expects it).
report_requests() { # NAME
    local file=$TMP/requests-$1
    if [[ ! -s $file ]]; then
        echo "  server: no request lines in its log (WHARF_LOG=${WHARF_LOG:-info})"
        return
    fi
    printf '  server: %s requests (%s; %s), server time %s ms summed, p50 %s ms, p99 %s ms, max %s ms\n' \
        "${REQS[$1]}" \
        "$(awk '{ c[$1]++ } END { for (k in c) printf "%s%s %d", n++ ? ", " : "", k, c[k] }' "$file")" \
        "$(awk '{ c[$2]++ } END { for (k in c) printf "%s%s: %d", n++ ? ", " : "", k, c[k] }' "$file")" \
        "${SERVER_MS[$1]}" "$(server_pct "$1" 50)" "$(server_pct "$1" 99)" "$(server_pct "$1" 100)"
    printf '  server: peak RSS %s MiB, CPU %s s\n' "$(mib "${RSS[$1]}")" "${CPU[$1]}"
    local failed
    failed=$(awk '$2 >= 400 && !($1 == "GET" && $2 == 404 && $4 ~ /\/maven-metadata\.xml$/)' "$file")
    if [[ -n $failed ]]; then
        echo "  server: UNEXPECTED failures ($(wc -l <<<"$failed")):"
        head -20 <<<"$failed" | sed 's/^/    /'
    fi
}

# ---------------------------------------------------------------------------- cleanup

# Run by cleanup (lib.sh), which then stops nginx and Wharf.
teardown() {
    if [[ -n $SAMPLER_PID ]]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
}
bench_tmp wharf-maven-bench

# ---------------------------------------------------------------------------- prerequisites

require mvn java curl wrk
[[ -d /usr/share/maven-repo/org/apache/maven/plugins ]] \
    || die "no /usr/share/maven-repo: Maven runs offline on Debian's packaged plugins (apt-get install maven)"
find_wharf

# ---------------------------------------------------------------------------- maven setup

# settings.xml as tests/maven.rs writes it: a private local repository, every
# repository but `wharf` mirrored to Debian's, credentials for `wharf`, and an active
# profile naming the `wharf` repository at REPO_URL (checksumPolicy fail, so every
# `.sha1` served is checked).
settings_xml() { # REPO_URL USER PASSWORD
    cat <<XML
<?xml version="1.0" encoding="UTF-8"?>
<settings xmlns="http://maven.apache.org/SETTINGS/1.0.0">
  <localRepository>$TMP/repository</localRepository>
  <interactiveMode>false</interactiveMode>
  <mirrors>
    <mirror><id>debian</id><mirrorOf>*,!wharf</mirrorOf><url>$DEBIAN_REPO</url></mirror>
  </mirrors>
  <servers>
    <server><id>wharf</id><username>$2</username><password>$3</password></server>
  </servers>
  <profiles>
    <profile>
      <id>wharf</id>
      <repositories>
        <repository>
          <id>wharf</id>
          <url>$1</url>
          <releases><enabled>true</enabled><updatePolicy>always</updatePolicy><checksumPolicy>fail</checksumPolicy></releases>
          <snapshots><enabled>true</enabled><updatePolicy>always</updatePolicy><checksumPolicy>fail</checksumPolicy></snapshots>
        </repository>
        <repository>
          <id>central</id>
          <url>$DEBIAN_REPO</url>
          <releases><checksumPolicy>ignore</checksumPolicy></releases>
          <snapshots><enabled>false</enabled></snapshots>
        </repository>
      </repositories>
      <pluginRepositories>
        <pluginRepository>
          <id>central</id>
          <url>$DEBIAN_REPO</url>
          <releases><checksumPolicy>ignore</checksumPolicy></releases>
          <snapshots><enabled>false</enabled></snapshots>
        </pluginRepository>
      </pluginRepositories>
    </profile>
  </profiles>
  <activeProfiles><activeProfile>wharf</activeProfile></activeProfiles>
</settings>
XML
}

# The plugin versions Debian ships (as in tests/fixtures/maven/*/pom.xml): the builds
# run offline.
PLUGIN_PINS='    <pluginManagement>
      <plugins>
        <plugin><artifactId>maven-clean-plugin</artifactId><version>3.2.0</version></plugin>
        <plugin><artifactId>maven-resources-plugin</artifactId><version>3.3.0</version></plugin>
        <plugin><artifactId>maven-compiler-plugin</artifactId><version>3.10.1</version></plugin>
        <plugin><artifactId>maven-surefire-plugin</artifactId><version>2.22.3</version></plugin>
        <plugin><artifactId>maven-jar-plugin</artifactId><version>3.3.0</version></plugin>
        <plugin><artifactId>maven-install-plugin</artifactId><version>3.1.0</version></plugin>
        <plugin><artifactId>maven-deploy-plugin</artifactId><version>3.0.0</version></plugin>
        <plugin><artifactId>maven-dependency-plugin</artifactId><version>3.5.0</version></plugin>
      </plugins>
    </pluginManagement>'
POM_HEAD='<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 http://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>'
PROPERTIES='  <properties>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
    <maven.compiler.release>17</maven.compiler.release>
  </properties>'

module() { printf 'm%02d' "$1"; } # module NUMBER -> its directory and class package

# project DIR COUNT: a `pom` parent (bench-parent 1.0.0) with COUNT jar modules
# (bench-m01 …), each with one class. Module poms name no groupId or version of their
# own, only the parent's, as real multi-module projects do.
project() {
    local dir=$1 count=$2 i m
    mkdir -p "$dir"
    {
        echo "$POM_HEAD"
        echo "  <groupId>$GROUP</groupId>"
        echo "  <artifactId>bench-parent</artifactId>"
        echo "  <version>1.0.0</version>"
        echo "  <packaging>pom</packaging>"
        echo "  <modules>"
        for i in $(seq "$count"); do echo "    <module>$(module "$i")</module>"; done
        echo "  </modules>"
        echo "$PROPERTIES"
        echo "  <build>"
        echo "$PLUGIN_PINS"
        echo "  </build>"
        echo "</project>"
    } >"$dir/pom.xml"
    for i in $(seq "$count"); do
        m=$(module "$i")
        mkdir -p "$dir/$m/src/main/java/${GROUP_PATH}/$m"
        cat >"$dir/$m/pom.xml" <<XML
$POM_HEAD
  <parent>
    <groupId>$GROUP</groupId>
    <artifactId>bench-parent</artifactId>
    <version>1.0.0</version>
  </parent>
  <artifactId>bench-$m</artifactId>
  <packaging>jar</packaging>
</project>
XML
        cat >"$dir/$m/src/main/java/${GROUP_PATH}/$m/${m^}.java" <<JAVA
package $GROUP.$m;

public final class ${m^} {
    private ${m^}() {}

    public static String name() {
        return "$m";
    }
}
JAVA
    done
}

# consumer DIR COUNT: a jar project depending on bench-m01 … bench-mCOUNT, whose one
# class calls every module's.
consumer() {
    local dir=$1 count=$2 i m
    mkdir -p "$dir/src/main/java/com/example/consumer"
    {
        echo "$POM_HEAD"
        echo "  <groupId>com.example.consumer</groupId>"
        echo "  <artifactId>bench-consumer</artifactId>"
        echo "  <version>1.0.0</version>"
        echo "  <packaging>jar</packaging>"
        echo "$PROPERTIES"
        echo "  <dependencies>"
        for i in $(seq "$count"); do
            echo "    <dependency><groupId>$GROUP</groupId><artifactId>bench-$(module "$i")</artifactId><version>1.0.0</version></dependency>"
        done
        echo "  </dependencies>"
        echo "  <build>"
        echo "$PLUGIN_PINS"
        echo "  </build>"
        echo "</project>"
    } >"$dir/pom.xml"
    {
        echo "package com.example.consumer;"
        echo
        echo "public final class Main {"
        echo "    public static void main(String[] args) {"
        echo "        StringBuilder names = new StringBuilder();"
        for i in $(seq "$count"); do
            m=$(module "$i")
            echo "        names.append($GROUP.$m.${m^}.name()).append(' ');"
        done
        echo "        System.out.println(names);"
        echo "    }"
        echo "}"
    } >"$dir/src/main/java/com/example/consumer/Main.java"
}

# mvn_run LOG SETTINGS DIR ARGS...: one Maven build, its output in LOG; stops the
# script on failure. HOME is the scratch dir so nothing of the user's ~/.m2 is read.
# A failed checksum upload is only a warning to Maven, so warnings are counted too.
mvn_run() {
    local log=$1 settings=$2 dir=$3
    shift 3
    if ! (cd "$dir" && HOME=$TMP MAVEN_SKIP_RC=true mvn -B -ntp -s "$settings" "$@") >"$log" 2>&1; then
        tail -40 "$log" >&2
        die "mvn $* failed in $dir (full output above, last 40 lines)"
    fi
}
# Every build starts without target/ dirs, so each does the same work. (Not with
# `mvn clean`: Debian's clean plugin 3.2.0 lacks a dependency offline.)
clean_targets() { find "$1" -name target -type d -prune -exec rm -rf {} +; }
declare -A MVN_WARNINGS
mvn_warnings() { # NAME -> "[WARNING]" lines of that build; the distinct ones printed to stderr
    local log=$TMP/mvn-$1.log
    MVN_WARNINGS[$1]=$(grep -c '^\[WARNING\]' "$log" || true)
    if ((MVN_WARNINGS[$1] > 0)); then
        echo "  mvn: ${MVN_WARNINGS[$1]} warnings, e.g. (paths shortened to their last part):"
        grep '^\[WARNING\]' "$log" | sed 's|[^ ]*/||g' | sort | uniq -c | sort -rn | head -5 | sed 's/^/    /'
    fi
}
deploy() { # NAME SETTINGS DIR REPO_URL
    clean_targets "$3"
    mvn_run "$TMP/mvn-$1.log" "$2" "$3" deploy -Dmaven.test.skip=true "-DaltDeploymentRepository=wharf::$4"
}
# A resolve starts from a local repository without any com.example artifact (what the
# deploy's install phase put there included): only Maven's own plugins stay cached.
resolve() { # NAME SETTINGS
    rm -rf "$TMP/repository/com/example"
    clean_targets "$TMP/consumer"
    mvn_run "$TMP/mvn-$1.log" "$2" "$TMP/consumer" compile
}

say "generating a project with $MODULES modules and its consumer in $TMP"
project "$TMP/project" "$MODULES"
project "$TMP/warmup" 1
consumer "$TMP/consumer" "$MODULES"

# ---------------------------------------------------------------------------- wharf

PORT=$(free_port)
start_wharf "$PORT" <<'TOML'
[formats.maven]
mount = "/api/packages/{owner}/maven"
TOML
BASE=$WHARF_URL/api/packages/admin/maven
# Any HTTP answer will do (nothing is deployed yet): it shows the socket is up.
wait_wharf "$BASE/$GROUP_PATH/none/maven-metadata.xml"
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/$GROUP_PATH/none/maven-metadata.xml")
[[ $code == 404 ]] || die "wharf answers $code for an unknown artifact's metadata (is the maven format in $BIN?)"
IDLE_KIB=$(status_kib VmRSS)
printf '  ready (pid %s); idle RSS %s MiB\n' "$WHARF_PID" "$(mib "$IDLE_KIB")"

settings_xml "$BASE" admin "$TOKEN" >"$TMP/settings-wharf.xml"
settings_xml "file://$TMP/file-repo" admin "$TOKEN" >"$TMP/settings-file.xml"

# ---------------------------------------------------------------------------- maven warm-up

# The first build copies every plugin from Debian's repository into the local one; a
# one-module project to a throw-away file:// repository pays that for all that follow.
say "warm-up: one-module deploy to a file:// repository (fills the local repository with plugins)"
t0=$(now)
deploy warmup "$TMP/settings-file.xml" "$TMP/warmup" "file://$TMP/warmup-repo"
printf '  %s s\n' "$(calc "$(now) - $t0" 1)"

# ---------------------------------------------------------------------------- file:// baseline

declare -A BASE_WALL
if [[ $BASELINE == 1 ]]; then
    say "baseline: mvn deploy of $MODULES modules to a file:// repository"
    t0=$(now)
    deploy file-deploy "$TMP/settings-file.xml" "$TMP/project" "file://$TMP/file-repo"
    BASE_WALL[deploy]=$(calc "$(now) - $t0" 1)
    printf '  %s s\n' "${BASE_WALL[deploy]}"

    say "baseline: consumer mvn compile resolving $MODULES modules from the file:// repository"
    t0=$(now)
    resolve file-resolve "$TMP/settings-file.xml"
    BASE_WALL[resolve]=$(calc "$(now) - $t0" 1)
    printf '  %s s\n' "${BASE_WALL[resolve]}"
fi

# ---------------------------------------------------------------------------- maven against wharf

# Maven 3.8.7 as measured in /work/notes/maven-requests.md: per jar module pom, jar
# (each + .sha1 + .md5), a GET of the artifact's metadata (404 on a first deploy) and
# its PUT (+ .sha1 + .md5); the pom parent the same without a jar. A resolve reads
# pom + .sha1 and jar + .sha1 per module, plus the parent's pom + .sha1.
DEPLOY_EXPECTED=$((10 * MODULES + 7))
RESOLVE_EXPECTED=$((4 * MODULES + 2))

say "mvn deploy of $MODULES modules to wharf"
phase_start deploy
deploy wharf-deploy "$TMP/settings-wharf.xml" "$TMP/project" "$BASE"
phase_end deploy
printf '  %s s wall (Maven 3.8.7 makes %s requests for this project)\n' "${WALL[deploy]}" "$DEPLOY_EXPECTED"
report_requests deploy
printf '  the uploads of each artifact (first request to last) took %s s in all; the rest is the build\n' \
    "$(upload_span deploy)"
mvn_warnings wharf-deploy

say "consumer mvn compile resolving $MODULES modules from wharf"
phase_start resolve
resolve wharf-resolve "$TMP/settings-wharf.xml"
phase_end resolve
printf '  %s s wall (Maven 3.8.7 makes %s requests for this project)\n' "${WALL[resolve]}" "$RESOLVE_EXPECTED"
report_requests resolve
printf '  first to last request: %s s\n' "$(span resolve)"
mvn_warnings wharf-resolve
# Every module's jar must have come from wharf, not from anywhere else.
from_wharf=$(grep -l 'jar>wharf=' "$TMP"/repository/"$GROUP_PATH"/bench-m*/1.0.0/_remote.repositories 2>/dev/null | wc -l)
[[ $from_wharf == "$MODULES" ]] || die "only $from_wharf of $MODULES module jars were resolved from wharf"

# ---------------------------------------------------------------------------- seed N versions

# One curl process per worker, each uploading its share of the versions over one
# keep-alive connection: pom first, then the jar, as Maven's deploy plugin 3 does.
# No checksum or metadata PUTs: they store nothing.
say "seeding $GROUP:$BIG with $N versions (pom + jar each, $PARALLEL curl processes)"
version() { echo "$((1 + $1 / 100)).$(($1 / 10 % 10)).$(($1 % 10))"; } # like npm.sh
big_pom() { # VERSION
    cat <<XML
$POM_HEAD
  <groupId>$GROUP</groupId>
  <artifactId>$BIG</artifactId>
  <version>$1</version>
  <packaging>jar</packaging>
  <name>Benchmark artifact with many versions</name>
</project>
XML
}
# The jar: any module's, so it has a realistic size.
cp "$TMP/project/m01/target/bench-m01-1.0.0.jar" "$TMP/big.jar"
mkdir -p "$TMP/seed"
BIG_URL=$BASE/$GROUP_PATH/$BIG
for ((i = 0; i < N; i++)); do
    v=$(version "$i")
    big_pom "$v" >"$TMP/seed/$BIG-$v.pom"
    printf 'upload-file = "%s"\nurl = "%s"\noutput = "/dev/null"\nupload-file = "%s"\nurl = "%s"\noutput = "/dev/null"\n' \
        "$TMP/seed/$BIG-$v.pom" "$BIG_URL/$v/$BIG-$v.pom" "$TMP/big.jar" "$BIG_URL/$v/$BIG-$v.jar" \
        >>"$TMP/seed/worker-$((i % PARALLEL)).curl"
done
phase_start seed
pids=()
for ((w = 0; w < PARALLEL && w < N; w++)); do
    curl -s -u "admin:$TOKEN" -K "$TMP/seed/worker-$w.curl" -w '%{http_code} %{url_effective}\n' \
        >"$TMP/seed/worker-$w.out" &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || true; done
phase_end seed
bad=$(cat "$TMP"/seed/worker-*.out | awk '$1 != 201' | head -5)
[[ -z $bad ]] || die "seeding PUTs failed: $bad"
printf '  %s s wall, %s PUTs/s\n' "${WALL[seed]}" "$(calc "2 * $N / ${WALL[seed]}" 0)"
report_requests seed
# A PUT whose cost grows with the versions already stored shows here.
tenth=$(((2 * N + 9) / 10))
printf '  server: median PUT of the first 10%% of versions %s ms, of the last 10%% %s ms\n' \
    "$(head -n "$tenth" "$TMP/requests-seed" | awk '{ print $3 }' | stats | cut -d' ' -f2)" \
    "$(tail -n "$tenth" "$TMP/requests-seed" | awk '{ print $3 }' | stats | cut -d' ' -f2)"

META=$BIG_URL/maven-metadata.xml
MAVEN_AE='Accept-Encoding: gzip,deflate' # on every GET Maven sends
curl -sf -o "$TMP/metadata.xml" "$META" || die "GET $META failed"
VERSIONS=$(grep -c '<version>' "$TMP/metadata.xml")
[[ $VERSIONS == "$N" ]] || die "maven-metadata.xml lists $VERSIONS versions, not $N"
# The .sha1 must be the digest of the uncompressed document.
curl -sf -o "$TMP/metadata.xml.sha1" "$META.sha1" || die "GET $META.sha1 failed"
[[ $(cat "$TMP/metadata.xml.sha1") == "$(sha1sum <"$TMP/metadata.xml" | cut -d' ' -f1)" ]] \
    || die "maven-metadata.xml.sha1 is not the SHA-1 of maven-metadata.xml"
# What Maven gets: gzip, if the server compresses it.
curl -sf -H "$MAVEN_AE" -D "$TMP/metadata.gz.headers" -o "$TMP/metadata.xml.body" "$META"
if grep -qi '^content-encoding: *gzip' "$TMP/metadata.gz.headers"; then
    GZIP_BYTES=$(stat -c %s "$TMP/metadata.xml.body")
    cmp -s <(gunzip -c "$TMP/metadata.xml.body") "$TMP/metadata.xml" || die "gzipped maven-metadata.xml differs"
else
    GZIP_BYTES=
fi
XML_BYTES=$(stat -c %s "$TMP/metadata.xml")
printf '  maven-metadata.xml: %s versions, %s bytes; with Maven'"'"'s Accept-Encoding: %s\n' \
    "$VERSIONS" "$XML_BYTES" "$(if [[ -n $GZIP_BYTES ]]; then echo "$GZIP_BYTES bytes gzip"; else echo "not compressed"; fi)"

# ---------------------------------------------------------------------------- load

WORKLOADS=(xml xml-gzip sha1)
: >"$TMP/wrk.out"
# One phase per workload (warm-up included), so each has its own RSS, CPU and the
# server-side latencies from the log (time in the server, not in wrk's queue).
load() { # WORKLOAD URL [HEADER]
    local name=$1
    shift
    phase_start "load-$name"
    wrk_run wharf "$name" "$@"
    phase_end "load-$name"
    printf '  server: %s requests logged, server-side p50 %s ms, p99 %s ms, max %s ms; peak RSS %s MiB, CPU %s s over %s s\n' \
        "${REQS[load-$name]}" "$(server_pct "load-$name" 50)" "$(server_pct "load-$name" 99)" \
        "$(server_pct "load-$name" 100)" "$(mib "${RSS[load-$name]}")" "${CPU[load-$name]}" "${WALL[load-$name]}"
    awk '$2 != 200 { c++ } END { if (c) printf "  server: UNEXPECTED: %d requests were not 200\n", c }' \
        "$TMP/requests-load-$name"
}
say "wharf: wrk -t$THREADS -c$CONNS -d${DURATION}s on maven-metadata.xml ($N versions; warm, cached)"
load xml "$META"
load xml-gzip "$META" "$MAVEN_AE"
load sha1 "$META.sha1"

# ---------------------------------------------------------------------------- loopback baseline

# As fast as a static file server hands the same bytes to the same wrk on this machine:
# nginx with the document, its gzip (the very bytes wharf sent, served by gzip_static)
# and its .sha1.
if command -v nginx >/dev/null; then
    mkdir -p "$TMP/nginx/www"
    cp "$TMP/metadata.xml" "$TMP/metadata.xml.sha1" "$TMP/nginx/www/"
    GZIP_STATIC=off
    if [[ -n $GZIP_BYTES ]]; then
        cp "$TMP/metadata.xml.body" "$TMP/nginx/www/metadata.xml.gz"
        GZIP_STATIC=on
    fi
    start_nginx metadata.xml "types { text/xml xml; text/plain sha1; } gzip_static $GZIP_STATIC;"
    NGINX=$NGINX_URL
    say "nginx: the same wrk on a static copy of the same bytes (loopback baseline)"
    wrk_run nginx xml "$NGINX/metadata.xml"
    wrk_run nginx xml-gzip "$NGINX/metadata.xml" "$MAVEN_AE"
    wrk_run nginx sha1 "$NGINX/metadata.xml.sha1"
    stop_pid "$NGINX_PID"
    NGINX_PID=
else
    echo "  (nginx not installed: no loopback baseline)"
fi

# ---------------------------------------------------------------------------- cold renders

# The rendered document is cached by the package's revision; deploying a version (pom
# then jar, as Maven does) is what changes it. So every timed GET below follows a new
# version, and is the first read of the new document. The versions stay: N+1, N+2, …
EXTRA=0
invalidate() {
    local v code src
    EXTRA=$((EXTRA + 1))
    v=100.0.$EXTRA
    big_pom "$v" >"$TMP/seed/$BIG-$v.pom"
    for src in "$TMP/seed/$BIG-$v.pom" "$TMP/big.jar"; do
        code=$(curl -s -o "$TMP/invalidate.body" -w '%{http_code}' -u "admin:$TOKEN" -T "$src" \
            "$BIG_URL/$v/$BIG-$v.${src##*.}")
        [[ $code == 201 ]] || die "deploying $v answered $code: $(cat "$TMP/invalidate.body")"
    done
}

# The server's own time for the request just made: the last `request` line it logged.
last_server_ms() { requests_since "$(($(log_lines) - 5))" | tail -1 | awk '{ printf "%.2f", $3 }'; }

timed_get() { # URL [HEADER] -> "curl_ms server_ms" of one GET on a fresh connection
    local out hdr=()
    if [[ -n ${2:-} ]]; then hdr=(-H "$2"); fi
    out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "${hdr[@]}" "$1")
    [[ ${out% *} == 200 ]] || die "GET $1 answered ${out% *}"
    echo "$(calc "${out#* } * 1000" 2) $(last_server_ms)"
}


declare -A COLD
single() { # NAME URL HEADER cold|warm: COLD_RUNS GETs, each on a fresh connection and
    # after a new version if cold -> COLD[NAME]="curl_min curl_median server_min server_median"
    local name=$1 url=$2 header=$3 runs=() t
    for _ in $(seq "$COLD_RUNS"); do
        if [[ $4 == cold ]]; then invalidate; fi
        runs+=("$(timed_get "$url" "$header")")
    done
    COLD[$name]="$(printf '%s\n' "${runs[@]}" | cut -d' ' -f1 | stats) $(printf '%s\n' "${runs[@]}" | cut -d' ' -f2 | stats)"
    read -r -a t <<<"${COLD[$name]}"
    printf '  %-22s curl min %7s median %7s ms   server min %7s median %7s ms\n' "$name ($4)" "${t[@]}"
}

say "wharf: cache-miss renders, $COLD_RUNS each, a new version deployed before every GET"
phase_start cold
single xml "$META" "" cold
single xml-gzip "$META" "$MAVEN_AE" cold
single sha1 "$META.sha1" "" cold
# The same single GETs once cached, for comparison with the same connection setup.
single warm-xml "$META" "" warm
single warm-xml-gzip "$META" "$MAVEN_AE" warm
phase_end cold
printf '  server: peak RSS %s MiB, CPU %s s\n' "$(mib "${RSS[cold]}")" "${CPU[cold]}"
awk '$2 >= 400 { c++ } END { if (c) printf "  server: UNEXPECTED: %d requests failed\n", c }' "$TMP/requests-cold"

# ---------------------------------------------------------------------------- summary

HWM_KIB=$(status_kib VmHWM)
say "summary: $MODULES-module project, $GROUP:$BIG with $N versions, $(nproc) CPUs, loopback, Maven $(mvn -v 2>/dev/null | sed -n 's/.*Apache Maven \([0-9.]*\).*/\1/p' | head -1)"
row() { printf '  %-20s %7s %9s %8s %7s %8s %11s %13s %7s %6s\n' "$@"; }
row "maven" "wall s" "file:// s" "requests" "non-2xx" "mvn warn" "server ms" "srv p50/p99" "RSS MiB" "CPU s"
for phase in deploy resolve seed; do
    label="$phase ($MODULES modules)" base=${BASE_WALL[$phase]:--} warn=${MVN_WARNINGS[wharf-$phase]:--}
    if [[ $phase == seed ]]; then label="seed ($N versions)" base=-; fi
    row "$label" "${WALL[$phase]}" "$base" "${REQS[$phase]}" \
        "$(awk '$2 >= 300 { c++ } END { print c + 0 }' "$TMP/requests-$phase")" "$warn" \
        "${SERVER_MS[$phase]}" "$(server_pct "$phase" 50)/$(server_pct "$phase" 99)" \
        "$(mib "${RSS[$phase]}")" "${CPU[$phase]}"
done
echo "  (server ms = sum of the server's own request latencies, as its log reports them)"
printf '  deploy: the uploads of each artifact took %s s in all (first request to last);\n' "$(upload_span deploy)"
printf '  resolve: %s s from the first request to the last\n' "$(span resolve)"
echo
row2() { printf '  %-9s %9s %9s %6s  %-15s %-15s %-13s %7s %7s %6s\n' "$@"; }
row2 "metadata" "wharf r/s" "nginx r/s" "ratio" "wharf p50/p99" "nginx p50/p99" "wharf srv" "bytes" "RSS MiB" "CPU %"
for w in "${WORKLOADS[@]}"; do
    wr=$(wrk_field wharf "$w" 'req/s')
    nr=$(wrk_field nginx "$w" 'req/s')
    ratio=-
    if [[ -n $nr ]] && awk -v v="$nr" 'BEGIN { exit !(v > 0) }'; then ratio=$(calc "$wr / $nr" 3)x; fi
    row2 "$w" "$wr" "${nr:--}" "$ratio" \
        "$(wrk_field wharf "$w" p50_ms)/$(wrk_field wharf "$w" p99_ms)" \
        "${nr:+$(wrk_field nginx "$w" p50_ms)/$(wrk_field nginx "$w" p99_ms)}" \
        "$(server_pct "load-$w" 50)/$(server_pct "load-$w" 99)" \
        "$(wrk_field wharf "$w" bytes)" "$(mib "${RSS[load-$w]}")" \
        "$(calc "100 * ${CPU[load-$w]} / ${WALL[load-$w]}" 0)"
done
echo "  (latencies in ms: wrk's, and the server's own from its log; CPU % = server CPU time"
echo "   over the workload's wall time including wrk's warm-up, 100 = one core)"
errs=$(awk '$NF != "errors=none" { print "  " $1 " " $2 ": " substr($NF, 8) }' "$TMP/wrk.out")
if [[ -n $errs ]]; then echo "  wrk reported errors:"; echo "$errs"; fi
echo
printf '  %-38s %16s %16s\n' "cache-miss render (min/median)" "curl ms" "server ms"
for w in "${WORKLOADS[@]}"; do
    read -r cmin cmed smin smed <<<"${COLD[$w]}"
    printf '  %-38s %16s %16s\n' "$w" "$cmin / $cmed" "$smin / $smed"
done
for w in warm-xml warm-xml-gzip; do
    read -r cmin cmed smin smed <<<"${COLD[$w]}"
    printf '  %-38s %16s %16s\n' "$w (cached, for comparison)" "$cmin / $cmed" "$smin / $smed"
done
echo
printf '  RSS: idle %s MiB, VmHWM at the end %s MiB\n' "$(mib "$IDLE_KIB")" "$(mib "$HWM_KIB")"
