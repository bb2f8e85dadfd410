#!/usr/bin/env bash
# The scale-out backends against the embedded ones (issue 22), on one machine in one run.
# Two Wharf servers: "embedded" (SQLite + blobs on disk) and "scaleout" (PostgreSQL 15 +
# blobs in moto's S3 server), each hosting the same npm package (a ~52 KB tarball).
#   1. wrk on the tarball and on the packument of each, interleaved round by round:
#      req/s and the scaleout/embedded ratio (the issue asks for at least 0.5x);
#   2. a SIZE_MB upload and download through the S3 server (curl, generic format): the
#      server's RSS growth (issue: under 100 MiB) and throughput against moto's own
#      copy speed with an S3 client (boto3 from moto's venv, the same endpoint: the
#      issue's "aws s3 cp"-style reference, at least 0.8x). A download's reference is
#      curl reading the object from S3 itself: a third node of the same registry with
#      storage.redirect_downloads on answers 307 to a presigned URL (curl -L);
#   3. an OCI manifest naming LAYERS blobs, pushed to each side: the manifest PUT's time
#      (the plugin asks the host about every blob it names; on PostgreSQL each question
#      was a round trip until the answers came from one read of the package's blobs).
# Prints figures and ratios; checks nothing (the assertions live in `cargo test`).
#
# Usage: benches/scale-out.sh [BIN]   (default: target/release/wharf; a debug build
#        runs too, for checking the script)
# Environment: ROUNDS (default 3), DURATION seconds per wrk run (default 5), CONNS (20),
#   THREADS (2), SIZE_MB (default 1024), LAYERS (default 2000), START_SECS (wait for a server, default 60),
#   WHARF_MOTO_SERVER (moto_server of the venv .ci/run installs; default
#   ~/.cache/wharf-clients/moto-5.2.5/bin/moto_server).
#   PostgreSQL 15 comes from Debian's packages (.ci/postgres.sh starts a private one).

set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=../.ci/postgres.sh
source "$ROOT/.ci/postgres.sh"

BIN=${1:-${CARGO_TARGET_DIR:-$ROOT/target}/release/wharf}
[[ -x $BIN ]] || die "no server binary at $BIN (cargo build --release)"
require curl wrk base64 openssl
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
WARMUP=1
CONNS=${CONNS:-20}
THREADS=${THREADS:-2}
SIZE_MB=${SIZE_MB:-1024}
LAYERS=${LAYERS:-2000}
MOTO=${WHARF_MOTO_SERVER:-$HOME/.cache/wharf-clients/moto-5.2.5/bin/moto_server}
MOTO_PYTHON=$(dirname "$MOTO")/python
[[ -x $MOTO_PYTHON ]] || die "no moto venv at $(dirname "$MOTO") (.ci/run installs it)"
PASSWORD=bench-password-$RANDOM
BUCKET=wharf-bench
# moto takes any credentials; the server and boto3 need some.
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret AWS_DEFAULT_REGION=us-east-1
bench_tmp wharf-scale-out

PIDS=()
MOTO_PID=
teardown() {
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    if [[ -n $MOTO_PID ]]; then stop_pid "$MOTO_PID"; fi
    postgres_stop
}
SIDES=(embedded scaleout)

# ---------------------------------------------------------------------------- servers

say "PostgreSQL 15 and moto"
postgres_start
"$pg_bin/psql" -q -d "$WHARF_TEST_POSTGRES" \
    -c "CREATE DATABASE wharf TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
DATABASE=${WHARF_TEST_POSTGRES%/*}/wharf
MOTO_PORT=$(free_port)
"$MOTO" -H 127.0.0.1 -p "$MOTO_PORT" >"$TMP/moto.log" 2>&1 &
MOTO_PID=$!
S3=http://127.0.0.1:$MOTO_PORT
for _ in $(seq 100); do curl -sf -o /dev/null -X PUT "$S3/$BUCKET" && break; sleep 0.1; done
curl -sf -o /dev/null "$S3/$BUCKET" || die "moto did not start: $(tail -3 "$TMP/moto.log")"

LIMITS="[formats.generic]
mount = \"/api/packages/{owner}/generic\"
max_upload = \"$((SIZE_MB + 64)) MiB\""
start_named embedded "$LIMITS"
PIDS+=("$STARTED_PID")
declare -A URL PID
URL[embedded]=http://127.0.0.1:$PORT PID[embedded]=$STARTED_PID
start_named scaleout "$LIMITS
[storage]
database = \"$DATABASE\"
blobs = \"s3://$BUCKET/wharf\"
s3_endpoint = \"$S3\"
s3_region = \"us-east-1\""
PIDS+=("$STARTED_PID")
URL[scaleout]=http://127.0.0.1:$PORT PID[scaleout]=$STARTED_PID
# A second node of the same registry (same database and bucket) that answers large
# downloads with a 307 to a presigned URL (storage.redirect_downloads): the client then
# reads from the object store itself.
start_named redirecting "$LIMITS
[storage]
database = \"$DATABASE\"
blobs = \"s3://$BUCKET/wharf\"
s3_endpoint = \"$S3\"
s3_region = \"us-east-1\"
redirect_downloads = true"
PIDS+=("$STARTED_PID")
URL[redirecting]=http://127.0.0.1:$PORT

# ---------------------------------------------------------------------------- small GETs

head -c 52000 /dev/zero | openssl enc -aes-128-ctr -K 00 -iv 00 -nosalt 2>/dev/null >"$TMP/tgz"
INTEGRITY=sha512-$(openssl dgst -sha512 -binary <"$TMP/tgz" | base64 -w0)
cat >"$TMP/publish.json" <<JSON
{"_id":"bench-pkg","name":"bench-pkg","dist-tags":{"latest":"1.0.0"},
 "versions":{"1.0.0":{"name":"bench-pkg","version":"1.0.0","description":"scale-out bench",
   "dist":{"integrity":"$INTEGRITY","tarball":"http://x/bench-pkg/-/bench-pkg-1.0.0.tgz"}}},
 "_attachments":{"bench-pkg-1.0.0.tgz":{"content_type":"application/octet-stream",
   "data":"$(base64 -w0 <"$TMP/tgz")","length":52000}}}
JSON
for side in "${SIDES[@]}"; do
    status=$(curl -s -o "$TMP/publish.out" -w '%{http_code}' -u "admin:$PASSWORD" -X PUT \
        -H 'content-type: application/json' --data-binary @"$TMP/publish.json" \
        "${URL[$side]}/api/packages/admin/npm/bench-pkg")
    [[ $status == 201 ]] || die "publish to $side answered $status: $(cat "$TMP/publish.out")"
done

say "wrk: ${ROUNDS} rounds of ${DURATION}s, -t$THREADS -c$CONNS, sides interleaved"
for round in $(seq "$ROUNDS"); do
    for side in "${SIDES[@]}"; do
        npm=${URL[$side]}/api/packages/admin/npm
        wrk_run "$side" "tarball-$round" "$npm/bench-pkg/-/bench-pkg-1.0.0.tgz"
        wrk_run "$side" "packument-$round" "$npm/bench-pkg"
    done
done
median_rps() { # SIDE WORKLOAD
    for round in $(seq "$ROUNDS"); do wrk_field "$1" "$2-$round" req/s; done | stats | cut -d' ' -f2
}

# ---------------------------------------------------------------------------- 1 GiB

BIG=$TMP/large.bin
say "${SIZE_MB} MiB through S3"
head -c "$((SIZE_MB << 20))" /dev/zero | openssl enc -aes-128-ctr -K 01 -iv 00 -nosalt 2>/dev/null >"$BIG"
# moto's own speed with an S3 client: boto3's managed transfer (multipart, threads),
# what `aws s3 cp` runs, and for downloads also one plain GET (below).
# shellcheck disable=SC2016
REFERENCE=$("$MOTO_PYTHON" - "$S3" "$BUCKET" "$BIG" "$TMP/boto.out" <<'PY'
import sys, time, boto3
endpoint, bucket, path, out = sys.argv[1:]
s3 = boto3.client("s3", endpoint_url=endpoint)
t0 = time.monotonic(); s3.upload_file(path, bucket, "reference/large.bin"); up = time.monotonic() - t0
t0 = time.monotonic(); s3.download_file(bucket, "reference/large.bin", out); down = time.monotonic() - t0
# One plain GET of the whole object, as Wharf's download makes: boto3's download_file
# splits it into ranged GETs, and moto reads the whole object for each range, so that
# figure measures moto's range handling, not its speed.
t0 = time.monotonic()
body = s3.get_object(Bucket=bucket, Key="reference/large.bin")["Body"]
with open(out + ".get", "wb") as f:
    for chunk in body.iter_chunks(1 << 20):
        f.write(chunk)
get = time.monotonic() - t0
s3.delete_object(Bucket=bucket, Key="reference/large.bin")
print(f"{up:.3f} {down:.3f} {get:.3f}")
PY
)
cmp -s "$BIG" "$TMP/boto.out" || die "boto3 did not get the same bytes back"
cmp -s "$BIG" "$TMP/boto.out.get" || die "boto3's GET did not get the same bytes back"
rm -f "$TMP/boto.out" "$TMP/boto.out.get"
read -r REF_UP REF_DOWN REF_GET <<<"$REFERENCE"

WHARF_PID=${PID[scaleout]}
large=${URL[scaleout]}/api/packages/admin/generic/large/1/large.bin
BEFORE=$(status_kib VmRSS)
start_sampler "$TMP/rss-up"
UP=$(curl -sS -o /dev/null -w '%{http_code} %{time_total}' -u "admin:$PASSWORD" -T "$BIG" "$large")
PEAK_UP=$(stop_sampler "$TMP/rss-up")
[[ ${UP% *} == 201 ]] || die "the upload answered ${UP% *}"
start_sampler "$TMP/rss-down"
DOWN=$(curl -sS -o "$TMP/down.bin" -w '%{http_code} %{time_total}' "$large")
PEAK_DOWN=$(stop_sampler "$TMP/rss-down")
[[ ${DOWN% *} == 200 ]] || die "the download answered ${DOWN% *}"
cmp -s "$BIG" "$TMP/down.bin" || die "the download differs from the upload"
rm -f "$TMP/down.bin"
WHARF_PID=
redirected=${URL[redirecting]}/api/packages/admin/generic/large/1/large.bin
REDIRECTED=$(curl -sS -L -o "$TMP/down.bin" -w '%{http_code} %{time_total} %{num_redirects}' "$redirected")
read -r status REDIRECT_S hops <<<"$REDIRECTED"
[[ $status == 200 && $hops == 1 ]] || die "the redirected download answered $status after $hops redirects"
cmp -s "$BIG" "$TMP/down.bin" || die "the redirected download differs from the upload"
rm -f "$TMP/down.bin"

# ---------------------------------------------------------------------------- manifest

say "a manifest naming $LAYERS blobs"
declare -A MANIFEST_S
for side in "${SIDES[@]}"; do
    # shellcheck disable=SC2016
    MANIFEST_S[$side]=$("$MOTO_PYTHON" - "${URL[$side]}" "$PASSWORD" "$LAYERS" <<'PY'
import hashlib, json, sys, time, requests
url, password, layers = sys.argv[1], sys.argv[2], int(sys.argv[3])
http = requests.Session()
token = http.get(f"{url}/v2/token", params={"service": "wharf",
    "scope": "repository:admin/many:pull,push"}, auth=("admin", password)).json()["token"]
http.headers["authorization"] = f"Bearer {token}"
def push(body):
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    r = http.post(f"{url}/v2/admin/many/blobs/uploads/", params={"digest": digest}, data=body)
    assert r.status_code == 201, (r.status_code, r.text)
    return {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest,
            "size": len(body)}
config = push(b'{"architecture":"amd64","os":"linux"}')
config["mediaType"] = "application/vnd.oci.image.config.v1+json"
manifest = json.dumps({"schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config,
    "layers": [push(b"layer %d" % i) for i in range(layers)]}).encode()
t0 = time.monotonic()
r = http.put(f"{url}/v2/admin/many/manifests/v1", data=manifest,
             headers={"content-type": "application/vnd.oci.image.manifest.v1+json"})
elapsed = time.monotonic() - t0
assert r.status_code == 201, (r.status_code, r.text)
print(f"{elapsed:.3f}")
PY
) || die "the manifest push to $side failed"
done

# ---------------------------------------------------------------------------- report

say "results"
for workload in tarball packument; do
    e=$(median_rps embedded "$workload")
    s=$(median_rps scaleout "$workload")
    printf '  %-9s req/s (median)  embedded %8s  scaleout %8s  ratio %sx (issue: >= 0.5x)\n' \
        "$workload" "$e" "$s" "$(calc "$s / $e" 2)"
done
up_s=${UP#* } down_s=${DOWN#* }
printf '  %s MiB upload     wharf %6.1f MiB/s  boto3 %6.1f MiB/s  ratio %sx (issue: >= 0.8x)\n' \
    "$SIZE_MB" "$(calc "$SIZE_MB / $up_s")" "$(calc "$SIZE_MB / $REF_UP")" "$(calc "$REF_UP / $up_s" 2)"
# The download's reference is the same client reading from the object store itself
# (curl following the redirecting node's 307): boto3 reads faster than curl here, and
# its ranged download_file slower than either (moto reads the whole object per range).
printf '  %s MiB download   wharf %6.1f MiB/s  curl from S3 %6.1f MiB/s  ratio %sx (issue: >= 0.8x)\n' \
    "$SIZE_MB" "$(calc "$SIZE_MB / $down_s")" "$(calc "$SIZE_MB / $REDIRECT_S")" "$(calc "$REDIRECT_S / $down_s" 2)"
printf '  %s MiB download   (boto3 from S3: one GET %.1f MiB/s, download_file %.1f MiB/s)\n' \
    "$SIZE_MB" "$(calc "$SIZE_MB / $REF_GET")" "$(calc "$SIZE_MB / $REF_DOWN")"
printf '  RSS growth       upload +%s MiB, download +%s MiB over %s MiB before (issue: < 100 MiB)\n' \
    "$(mib $((PEAK_UP - BEFORE)))" "$(mib $((PEAK_DOWN - BEFORE)))" "$(mib "$BEFORE")"
printf '  manifest PUT     %s layers: embedded %s s, scaleout %s s\n' \
    "$LAYERS" "${MANIFEST_S[embedded]}" "${MANIFEST_S[scaleout]}"
