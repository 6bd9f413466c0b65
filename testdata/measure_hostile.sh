#!/usr/bin/env bash
# Runs the kinfer CLI on every file of a hostile corpus (testdata/gen_hostile.py) and
# prints exit status, max RSS and the error, one line per command:
#   go build -o /tmp/kinfer ./cmd/kinfer && testdata/measure_hostile.sh /tmp/kinfer-hostile [/tmp/kinfer]
# Exit status 0 = accepted, 1 = clear error, 2 = usage; 124 = timed out (a hang), and a
# Go "fatal error" or "panic" in stderr is a failure.
set -uo pipefail
dir=${1:-/tmp/kinfer-hostile}
bin=${2:-/tmp/kinfer}
root=$(cd "$(dirname "$0")/.." && pwd)
measure() { # label, command...
  local label=$1; shift
  local err rss rc
  err=$(mktemp)
  /usr/bin/time -v timeout 120 "$@" >/dev/null 2>"$err"
  rc=$(grep -m1 'Exit status' "$err" | awk '{print $NF}')
  rss=$(grep -m1 'Maximum resident' "$err" | awk '{print $NF}')
  local msg
  msg=$(grep -v -E '^\s|Command (being timed|exited)' "$err" | grep -m1 -E 'kinfer|fatal|panic|goroutine' | cut -c1-220)
  printf '%-44s rc=%-3s maxRSS=%6d MiB  %s\n' "$label" "$rc" $((rss / 1024)) "$msg"
  rm -f "$err"
}
measure "baseline: info mlp_regressor.npz" "$bin" info "$root/testdata/keras/mlp_regressor.npz"
measure "baseline: verify mlp_regressor.npz" "$bin" verify "$root/testdata/keras/mlp_regressor.npz"
for f in "$dir"/*.npz "$dir"/*.onnx; do
  b=$(basename "$f")
  measure "info $b" "$bin" info "$f"
  measure "info --batch 64 $b" "$bin" info --batch 64 "$f"
  case $b in
    *zeropad*) measure "run $b" "$bin" run "$f" "$dir/x_4x4x1.npy" ;;
    *.npz) measure "run $b" "$bin" run "$f" "$dir/x_8.npy"
           measure "verify $b" "$bin" verify "$f" ;;
  esac
done
for f in "$dir"/input_*.npy; do
  measure "run mlp_regressor $(basename "$f")" "$bin" run "$root/testdata/keras/mlp_regressor.npz" "$f"
done
