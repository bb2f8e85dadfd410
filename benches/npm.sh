#!/usr/bin/env bash
# npm packument serving, Wharf side by side with Verdaccio 6.8 in one run on one
# machine: absolute figures drift between machines, the ratios are what we track.
# Both servers hold `big-pkg` with N versions of the same synthetic metadata; the
# load itself comes from the shared scripts in ../shared/bench (see its README.md),
# so both servers get exactly the same wrk workloads. It prints numbers and checks
# nothing: the assertions live in `cargo test`.
#
# Usage: benches/npm.sh
# Environment (all optional):
#   WHARF_BIN           server binary to use; skips `cargo build --release`
#   N                   versions of big-pkg (default 2000)
#   CONNS THREADS DURATION WARMUP
#                       passed to npm-packument-bench.sh (defaults 20, 2, 15 s, 3 s)
#   COLD_RUNS           cache-miss renders timed per document (default 5)
#   PUBLISH_PARALLEL    concurrent publishes while seeding Wharf (default 4)
#   WHARF_BENCH_CACHE   Verdaccio install cache (default $HOME/.cache/wharf-bench)
#   WHARF_LOG           server log filter (default: the server's own, `info`)
#
# Needs node, npm, curl and wrk. Verdaccio is installed from the npm registry on the
# first run (several minutes) and kept in the cache afterwards.

set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SHARED=$(dirname "${BASH_SOURCE[0]}")/../../shared/bench
N=${N:-2000}
COLD_RUNS=${COLD_RUNS:-5}
PARALLEL=${PUBLISH_PARALLEL:-4}
PKG=big-pkg
WORKLOADS=(full abbr abbr-gzip tarball)

# ---------------------------------------------------------------------------- cleanup

VERDACCIO_PID=
# Run by cleanup (lib.sh), which then stops nginx and Wharf.
teardown() {
    # The setup script writes the pid file as soon as Verdaccio starts, so this also
    # covers a setup that failed half-way.
    if [[ -z $VERDACCIO_PID && -s $TMP/verdaccio/verdaccio.pid ]]; then
        VERDACCIO_PID=$(cat "$TMP/verdaccio/verdaccio.pid")
    fi
    if [[ -n $VERDACCIO_PID ]]; then stop_pid "$VERDACCIO_PID"; fi
}
bench_tmp wharf-npm-bench

# ---------------------------------------------------------------------------- prerequisites

for script in verdaccio-setup.sh npm-packument-bench.sh; do
    [[ -f $SHARED/$script ]] \
        || die "missing $SHARED/$script: the shared bench scripts must sit at ../shared/bench next to the repository"
done
SHARED=$(cd "$SHARED" && pwd)
command -v wrk >/dev/null || die "wrk is required; install it with: apt-get install -y wrk"
require node npm curl
find_wharf

# ---------------------------------------------------------------------------- wharf

PORT=$(free_port)
start_wharf "$PORT" <<'TOML'
[formats.npm]
mount = "/api/packages/{owner}/npm"
max_upload = "64 MiB"
TOML
BASE=$WHARF_URL/api/packages/admin/npm
wait_wharf "$BASE/-/ping" -f
curl -sf -o /dev/null "$BASE/-/ping" || die "wharf does not answer $BASE/-/ping"
AUTH="Authorization: Bearer $TOKEN"
echo "  ready (pid $WHARF_PID)"

# ---------------------------------------------------------------------------- seed wharf

# A real npm-shaped tarball (package.json plus ~50 KB of incompressible data), as
# verdaccio-setup.sh publishes, so the tarball workload moves the same bytes.
mkdir -p "$TMP/tgz/package"
echo "{\"name\":\"$PKG\",\"version\":\"0.0.0\",\"main\":\"index.js\",\"license\":\"MIT\"}" >"$TMP/tgz/package/package.json"
echo 'module.exports = require("fs").readFileSync(__dirname + "/data.bin");' >"$TMP/tgz/package/index.js"
head -c 51200 /dev/urandom >"$TMP/tgz/package/data.bin"
tar -C "$TMP/tgz" -czf "$TMP/big-pkg.tgz" package

say "publishing $PKG with $N versions to wharf ($PARALLEL in parallel)"
# The per-version manifest is verdaccio-setup.sh's, field for field (same numbering,
# dependency pattern and dist extras), so both servers serve comparable documents.
# npm publishes one version per PUT; that is the only way in, so seeding pays it.
node - "$BASE" "Bearer $TOKEN" "$N" "$PARALLEL" "$TMP/big-pkg.tgz" "$(npm --version)" <<'JS'
const http = require('http'), fs = require('fs'), crypto = require('crypto');
const [base, auth, n, parallel, tgzPath, npmVersion] =
  [process.argv[2], process.argv[3], +process.argv[4], +process.argv[5], process.argv[6], process.argv[7]];
const tgz = fs.readFileSync(tgzPath), data = tgz.toString('base64');
const integrity = 'sha512-' + crypto.createHash('sha512').update(tgz).digest('base64');
const shasum = crypto.createHash('sha1').update(tgz).digest('hex');
const deps = ['lodash','debug','chalk','semver','commander','glob','minimatch','rimraf','mkdirp','yargs','uuid','ms'];
const agent = new http.Agent({ keepAlive: true, maxSockets: parallel });
const url = new URL(`${base}/big-pkg`);
const version = i => `${1 + Math.floor(i / 100)}.${Math.floor(i / 10) % 10}.${i % 10}`;

function manifest(i) {
  const v = version(i), file = `big-pkg-${v}.tgz`;
  return { name: 'big-pkg', version: v,
    description: `Version ${v} of big-pkg, a synthetic package used to benchmark registries with large packuments. ` +
      'It has many versions, ten runtime dependencies, the usual scripts and a full set of npm publish fields.',
    main: 'index.js', types: 'index.d.ts', license: 'MIT', keywords: ['benchmark', 'registry', 'npm', 'packument', 'synthetic'],
    author: { name: 'Alice Example', email: 'alice@example.com', url: 'https://example.com/alice' },
    maintainers: [{ name: 'alice', email: 'alice@example.com' }, { name: 'bob', email: 'bob@example.com' }],
    contributors: [{ name: 'Carol Example', email: 'carol@example.com' }],
    repository: { type: 'git', url: 'git+https://github.com/example/big-pkg.git' },
    bugs: { url: 'https://github.com/example/big-pkg/issues' }, homepage: 'https://github.com/example/big-pkg#readme',
    scripts: { build: 'tsc -p tsconfig.build.json', test: 'mocha --recursive test/', lint: 'eslint src test --ext .ts',
      prepublishOnly: 'npm run build && npm test', coverage: 'nyc --reporter=lcov npm test' },
    engines: { node: '>=14' }, files: ['index.js', 'index.d.ts', 'lib/'], directories: {}, _hasShrinkwrap: false,
    exports: { '.': { types: './index.d.ts', require: './index.js', default: './index.js' }, './package.json': './package.json' },
    peerDependencies: { react: '>=16.8.0' }, peerDependenciesMeta: { react: { optional: true } },
    dependencies: Object.fromEntries(deps.slice(i % 3, i % 3 + 10).map((d, k) => [d, `^${1 + k}.${i % 7}.${i % 5}`])),
    devDependencies: { typescript: '^5.4.0', mocha: '^10.4.0', eslint: '^8.57.0', nyc: '^15.1.0' },
    gitHead: crypto.createHash('sha1').update(v).digest('hex'),
    _id: `big-pkg@${v}`, _nodeVersion: process.versions.node, _npmVersion: npmVersion,
    _npmUser: { name: 'alice', email: 'alice@example.com' },
    dist: { integrity, shasum, tarball: `${base}/big-pkg/-/${file}`, fileCount: 3, unpackedSize: 51330,
      signatures: [{ keyid: 'SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA',
        sig: crypto.createHash('sha512').update('sig' + v).digest('base64') }] } };
}

function publish(i, tags) {
  const m = manifest(i), v = m.version;
  const body = Buffer.from(JSON.stringify({ _id: 'big-pkg', name: 'big-pkg', description: m.description,
    'dist-tags': Object.fromEntries(tags.map(t => [t, v])), versions: { [v]: m },
    _attachments: { [`big-pkg-${v}.tgz`]: { content_type: 'application/octet-stream', data, length: tgz.length } } }));
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'PUT', agent, headers: { authorization: auth,
      'content-type': 'application/json', 'content-length': body.length } }, res => {
      const chunks = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () => res.statusCode === 201 ? resolve()
        : reject(new Error(`PUT big-pkg@${v}: ${res.statusCode} ${Buffer.concat(chunks)}`)));
    });
    req.on('error', reject);
    req.end(body);
  });
}

(async () => {
  const t0 = process.hrtime.bigint();
  let next = 0;
  // Every publish moves `latest`, so the last version goes alone, after the others,
  // to end with the dist-tags Verdaccio's document has.
  const worker = async () => { while (next < n - 1) await publish(next++, ['latest']); };
  await Promise.all(Array.from({ length: parallel }, worker));
  await publish(n - 1, ['latest', 'next']);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`  seeded ${n} versions in ${s.toFixed(1)} s (${(n / s).toFixed(0)} publishes/s, ` +
    `${tgz.length} byte tarball)`);
  agent.destroy();
})().catch(e => { console.error(`npm.sh: seeding failed: ${e.message}`); process.exit(1); });
JS

# ---------------------------------------------------------------------------- cold renders

ABBR='Accept: application/vnd.npm.install-v1+json'

timed_get() { # URL [HEADER] -> ms of one GET on a fresh connection
    local out hdr=()
    if [[ -n ${2:-} ]]; then hdr=(-H "$2"); fi
    out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "${hdr[@]}" "$1")
    [[ ${out% *} == 200 ]] || die "GET $1 ${2:+($2) }answered ${out% *}"
    calc "${out#* } * 1000"
}

# Any change to a package bumps its revision, which is what Wharf's render cache is
# keyed by; a new dist-tag is the cheapest change. The tags stay: a few bytes on a
# multi-megabyte document.
TAGS=0
invalidate() {
    TAGS=$((TAGS + 1))
    local code
    code=$(curl -s -o "$TMP/tag.body" -w '%{http_code}' -X PUT -H "$AUTH" -H 'content-type: application/json' \
        --data '"1.0.0"' "$BASE/-/package/$PKG/dist-tags/bench-$TAGS")
    [[ $code == 2?? ]] || die "dist-tag change answered $code: $(cat "$TMP/tag.body")"
}

cold() { # NAME URL [HEADER] [invalidate]: COLD_RUNS timed GETs -> COLD[NAME]="min median"
    local name=$1 url=$2 header=${3:-} fresh=${4:-} times=() min median
    for _ in $(seq "$COLD_RUNS"); do
        if [[ -n $fresh ]]; then invalidate; fi
        times+=("$(timed_get "$url" "$header")")
    done
    COLD[$name]=$(printf '%s\n' "${times[@]}" | stats)
    read -r min median <<<"${COLD[$name]}"
    printf '  %-16s min %8s ms   median %8s ms   (all: %s)\n' "$name" "$min" "$median" "${times[*]}"
}

declare -A COLD
say "wharf: cold (cache-miss) renders, $COLD_RUNS each, a dist-tag change before every GET"
cold wharf-full "$BASE/$PKG" "" invalidate
cold wharf-abbr "$BASE/$PKG" "$ABBR" invalidate

# ---------------------------------------------------------------------------- verdaccio

VPORT=$(free_port)
say "starting Verdaccio 6.8 on 127.0.0.1:$VPORT with $N versions (verdaccio-setup.sh)"
VERDACCIO_URL=$(bash "$SHARED/verdaccio-setup.sh" "$TMP/verdaccio" "$VPORT" "$N")
VERDACCIO_PID=$(cat "$TMP/verdaccio/verdaccio.pid")
echo "  ready (pid $VERDACCIO_PID)"

say "verdaccio: single renders, $COLD_RUNS each (it has no render cache: every GET is cold)"
cold verdaccio-full "$VERDACCIO_URL/$PKG"
cold verdaccio-abbr "$VERDACCIO_URL/$PKG" "$ABBR"

# ---------------------------------------------------------------------------- load

# Wharf first: a slow server keeps working through the requests wrk left queued after
# its run ends, and that backlog would eat into the CPU of whichever server comes next.
say "wharf under load"
SERVER_PID=$WHARF_PID bash "$SHARED/npm-packument-bench.sh" "$BASE" "$PKG" | tee "$TMP/wharf.out"
say "verdaccio under load"
SERVER_PID=$VERDACCIO_PID bash "$SHARED/npm-packument-bench.sh" "$VERDACCIO_URL" "$PKG" | tee "$TMP/verdaccio.out"

# ---------------------------------------------------------------------------- loopback baseline

# "Loopback speed" for a tarball means: as fast as a static file server can hand the
# same bytes to the same wrk on this machine. nginx is that server (optional).
NGINX_RPS=
if command -v nginx >/dev/null; then
    mkdir -p "$TMP/nginx/www"
    cp "$TMP/big-pkg.tgz" "$TMP/nginx/www/"
    start_nginx big-pkg.tgz
    say "nginx serving the same tarball (loopback baseline)"
    wrk -t"${THREADS:-2}" -c"${CONNS:-20}" -d"${DURATION:-15}"s --latency "$NGINX_URL/big-pkg.tgz" | tee "$TMP/nginx.out"
    NGINX_RPS=$(awk '/^Requests\/sec/ { print $2 }' "$TMP/nginx.out")
    stop_pid "$NGINX_PID"
    NGINX_PID=
else
    echo "  (nginx not installed: no loopback baseline for the tarball workload)"
fi

# ---------------------------------------------------------------------------- summary

field() { # FILE WORKLOAD KEY -> value of KEY=... on that workload's line
    awk -v w="$2" -v k="$3" '$1 == w { for (i = 2; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit } }' "$1"
}

say "summary: $PKG with $N versions, $(nproc) CPUs, loopback (ratio = Wharf req/s / Verdaccio req/s)"
row() { printf '  %-10s %10s %10s %8s   %-19s %-19s %10s %10s\n' "$@"; }
row workload "wharf r/s" "verd. r/s" ratio "wharf p50/p99 ms" "verd. p50/p99 ms" "wharf B" "verd. B"
for w in "${WORKLOADS[@]}"; do
    wr=$(field "$TMP/wharf.out" "$w" 'req/s')
    vr=$(field "$TMP/verdaccio.out" "$w" 'req/s')
    [[ -n $wr && -n $vr ]] || die "no $w line in the bench output"
    ratio=-
    if awk -v v="$vr" 'BEGIN { exit !(v > 0) }'; then ratio=$(calc "$wr / $vr" 1)x; fi
    row "$w" "$wr" "$vr" "$ratio" \
        "$(field "$TMP/wharf.out" "$w" p50_ms)/$(field "$TMP/wharf.out" "$w" p99_ms)" \
        "$(field "$TMP/verdaccio.out" "$w" p50_ms)/$(field "$TMP/verdaccio.out" "$w" p99_ms)" \
        "$(field "$TMP/wharf.out" "$w" bytes)" "$(field "$TMP/verdaccio.out" "$w" bytes)"
done
if [[ -n $NGINX_RPS ]]; then
    wr=$(field "$TMP/wharf.out" tarball 'req/s')
    echo "  tarball: nginx (static file, same bytes) $NGINX_RPS req/s; wharf/nginx $(calc "$wr / $NGINX_RPS" 2)x"
fi
echo
printf '  %-26s %18s %18s\n' "cold render (min/median)" "wharf ms" "verdaccio ms"
for doc in full abbr; do
    read -r wmin wmed <<<"${COLD[wharf-$doc]}"
    read -r vmin vmed <<<"${COLD[verdaccio-$doc]}"
    printf '  %-26s %18s %18s\n' "$doc packument" "$wmin / $wmed" "$vmin / $vmed"
done
