#!/usr/bin/env bash
# `npm run bench:sequence [-- OUTDIR]`: every issue-12 benchmark once, one after another, on the
# built tree, each printing to its own file in OUTDIR (default bench-results/<UTC time>), with the
# load average at each step in OUTDIR/times.txt. It is the sequence behind the table at the top of
# docs/performance.md; run it on a quiet machine (about 12 minutes here) and read each figure by its
# ratio to the baseline of the same run.
set -u
cd "$(dirname "$0")/.."
OUT=${1:-bench-results/$(date -u +%Y%m%dT%H%M%SZ)}
DATA=${PATHWARDEN_BENCH_DATA:-${TMPDIR:-/tmp}/pathwarden-bench-logs}
mkdir -p "$OUT"
log() { echo "$(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg) $*" | tee -a "$OUT/times.txt"; }
step() {
  local name=$1
  shift
  if "$@" > "$OUT/$name.txt" 2>&1; then log "$name"; else log "$name FAILED (exit $?; see $OUT/$name.txt)"; fi
}
log start
step startup node dist/bench/startup.js
step decide node --expose-gc dist/bench/decide.js --targets 300000 --explain-steady
# The audit's logs are generated once and kept (200 MB and 600 MB of each format).
for size in 200 600; do
  [ -f "$DATA/$size/access.log" ] ||
    node dist/bench/audit.js --generate "$DATA/$size" --size "$size" > "$OUT/generate$size.txt" 2>&1 ||
    log "generating the $size MB logs FAILED (see $OUT/generate$size.txt)"
done
log generated
step audit200 node dist/bench/audit.js --inputs "$DATA/200"
step audit600 node dist/bench/audit.js --inputs "$DATA/600" --jobs 2
step gateway node dist/bench/gateway.js --tunnels 9000 --floor
step dashboard node dist/bench/dashboard.js --quick
echo "results in $OUT"
