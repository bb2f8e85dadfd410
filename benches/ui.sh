#!/usr/bin/env bash
# The web UI's package page for a package with many versions (issue 23: under 50 ms in
# the server): a generic package gets N versions, then its page (first and a later page
# of versions), a version's page and the home page are fetched R times each with curl
# over loopback. Time to first byte is the figure: the page is rendered whole before
# its first byte leaves, so it is the server's time plus a loopback round trip. It
# prints numbers and checks nothing: the assertions live in `cargo test`.
#
# Usage: benches/ui.sh
# Environment (all optional):
#   WHARF_BIN   server binary to use; skips `cargo build --release`
#   N           versions of the package (default 3000)
#   R           fetches per page (default 50)
#   PARALLEL    concurrent uploads while seeding (default 8)

set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=${N:-3000}
R=${R:-50}
PARALLEL=${PARALLEL:-8}
bench_tmp wharf-ui-bench
require curl xargs
find_wharf

PORT=$(free_port)
start_wharf "$PORT" </dev/null
wait_wharf "$WHARF_URL/healthz" -f
echo "  ready (pid $WHARF_PID)"

say "seeding big-pkg with $N versions"
started=$(now)
seq 1 "$N" | xargs -P "$PARALLEL" -I{} curl -sf -o /dev/null -X PUT \
    -H "Authorization: token $TOKEN" --data-binary "file {}" \
    "$WHARF_URL/api/packages/admin/generic/big-pkg/1.0.{}/file.txt"
echo "  $N versions in $(calc "$(now) - $started") s"

# time_page NAME PATH: R fetches, prints min and median time to first byte in ms.
time_page() {
    local name=$1 url=$WHARF_URL$2 code
    code=$(curl -s -o "$TMP/page.html" -w '%{http_code}' "$url")
    [[ $code == 200 ]] || die "$url answered $code"
    for _ in $(seq "$R"); do
        curl -s -o /dev/null -w '%{time_starttransfer}\n' "$url"
    done | awk '{ print $1 * 1000 }' | stats >"$TMP/stats"
    read -r min median <"$TMP/stats" || true # stats prints no newline
    printf '  %-28s min %6s ms   median %6s ms   (%s KiB)\n' "$name" "$min" "$median" \
        "$(( $(wc -c <"$TMP/page.html") / 1024 ))"
}

say "time to first byte, $R fetches each"
time_page "package page (newest 30)" "/-/packages/admin/generic/big-pkg"
time_page "package page 50 (older)" "/-/packages/admin/generic/big-pkg?page=50"
time_page "version page" "/-/packages/admin/generic/big-pkg/versions/1.0.1500"
time_page "home (recently updated)" "/"
