#!/usr/bin/env bash
# Smoke test of the BUILT app (no Python, no venv): run after packaging/build.sh.
#     packaging/smoke_test.sh [DIST_FOLDER]      (default: packaging/dist/ecgviewer)
# 1. `ecgviewer --self-test` in an empty environment (env -i, PATH=/usr/bin:/bin, no venv, no
#    PYTHON* variables), in a network namespace without interfaces when `unshare -n` works:
#    exit 0, "SELF-TEST PASSED", "packaged (frozen)".
# 2. with strace (if installed): the self-test opens no file of a Python installation outside the folder.
# 3. the GUI offscreen: `ecgviewer --screenshot` on the bundled sample (exit 0, a PNG), and on a
#    10-second cut of it, twice, with ECGVIEWER_STARTUP_TRACE=1: seconds from launch to the window
#    painted, the model loaded, the record drawn and scored (a dozen beats), and to exit.
# 4. nothing of the trainer, no torch and no CUDA library in the folder, the ONNX model present;
#    prints the folder size.
# A build without the bundled model (ECGVIEWER_ALLOW_NO_MODEL=1) needs ECGVIEWER_MODEL=/path/card.json.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
DIST="$(cd "${1:-$HERE/dist/ecgviewer}" && pwd)"
EXE="$DIST/ecgviewer"
[ -x "$EXE" ] || { echo "smoke_test: no executable $EXE (build first: packaging/build.sh)" >&2; exit 1; }
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
fail() { echo "smoke_test: FAIL: $*" >&2; exit 1; }
ENVV=(env -i PATH=/usr/bin:/bin HOME="$TMP/home" LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen
      ECGVIEWER_CONFIG_DIR="$TMP/config" ECGVIEWER_LOG_DIR="$TMP/log")
[ -n "${ECGVIEWER_MODEL:-}" ] && ENVV+=(ECGVIEWER_MODEL="$ECGVIEWER_MODEL")
NONET=()
if unshare -n true 2>/dev/null; then NONET=(unshare -n); elif unshare -rn true 2>/dev/null; then NONET=(unshare -rn); fi
mkdir -p "$TMP/home"

echo "== 1. self-test (${NONET[*]:-network namespace not available} env -i)"
t0=$(date +%s.%N)
rc=0; "${NONET[@]}" "${ENVV[@]}" "$EXE" --self-test > "$TMP/selftest.txt" 2>&1 || rc=$?
[ $rc = 0 ] || { cat "$TMP/selftest.txt"; fail "--self-test exit $rc"; }
t1=$(date +%s.%N)
cat "$TMP/selftest.txt"
grep -q "SELF-TEST PASSED" "$TMP/selftest.txt" || fail "no SELF-TEST PASSED line"
grep -q "packaged (frozen)" "$TMP/selftest.txt" || fail "the self-test did not run from the packaged app"
grep -q "model backend onnx" "$TMP/selftest.txt" || fail "the packaged app did not score with ONNX Runtime"
echo "self-test wall time: $(awk "BEGIN{printf \"%.2f\", $t1 - $t0}") s"

if command -v strace >/dev/null; then
  echo "== 2. files opened outside the folder (strace)"
  "${ENVV[@]}" strace -f -qq -e trace=open,openat,execve -o "$TMP/strace.txt" "$EXE" --self-test >/dev/null 2>&1 \
    || fail "--self-test under strace"
  if grep -v ENOENT "$TMP/strace.txt" | grep -E '"[^"]*(site-packages|dist-packages|/\.venv/|/lib/python3|\.pyenv)[^"]*"' \
      | grep -v "\"$DIST/" > "$TMP/outside.txt"; then
    head -5 "$TMP/outside.txt"; fail "the app opened Python files outside $DIST"
  fi
  echo "no Python file opened outside $DIST"
fi

echo "== 3. GUI offscreen"
t0=$(date +%s.%N)
rc=0; "${NONET[@]}" "${ENVV[@]}" "$EXE" --screenshot "$TMP/shot.png" > "$TMP/gui.txt" 2>&1 || rc=$?
[ $rc = 0 ] || { cat "$TMP/gui.txt"; fail "--screenshot exit $rc"; }
t1=$(date +%s.%N)
[ -s "$TMP/shot.png" ] || fail "no screenshot written"
head -c 8 "$TMP/shot.png" | od -An -c | grep -q "P   N   G" || fail "screenshot is not a PNG"
echo "sample record (1987 beats): launch -> scored window saved in $(awk "BEGIN{printf \"%.2f\", $t1 - $t0}") s"
SAMPLE="$DIST/_internal/ecgviewer/resources/samples"
[ -d "$SAMPLE" ] || SAMPLE="$(dirname "$DIST")/Resources/ecgviewer/resources/samples"  # macOS .app layout
bash "$HERE/cut_sample.sh" "$SAMPLE" "$TMP/cut"
for i in 1 2; do  # the first start reads the folder from disk; the second is the warm start
  t0=$(date +%s.%N)
  rc=0; "${ENVV[@]}" ECGVIEWER_STARTUP_TRACE=1 "$EXE" "$TMP/cut/119" --screenshot "$TMP/cut$i.png" > "$TMP/gui2.txt" 2>&1 || rc=$?
  [ $rc = 0 ] || { cat "$TMP/gui2.txt"; fail "--screenshot (10 s record) exit $rc"; }
  t1=$(date +%s.%N)
  grep -q "startup: window painted" "$TMP/gui2.txt" || { cat "$TMP/gui2.txt"; fail "no start-up trace"; }
  echo "10-s record, start $i: $(grep '^startup:' "$TMP/gui2.txt" | sed 's/^startup: //' | paste -sd ';' | sed 's/;/; /g');" \
       "launch -> scored window saved and exited in $(awk "BEGIN{printf \"%.2f\", $t1 - $t0}") s"
done
[ -n "${SMOKE_KEEP_SCREENSHOT:-}" ] && cp "$TMP/shot.png" "$SMOKE_KEEP_SCREENSHOT"

echo "== 4. contents"
if find "$DIST" -path '*trainer*' | grep -q .; then fail "trainer files in the folder"; fi
# shared libraries only: torch's torch/cuda/*.py modules are part of every build, CPU ones included
if find "$DIST" \( -name '*.so*' -o -name '*.dll' -o -name '*.dylib' \) \( -iname 'libcuda*' -o -iname 'libcudart*' -o -iname 'cudart*' -o -iname '*cudnn*' -o -iname '*nccl*' -o -iname '*cublas*' -o -iname '*torch_cuda*' -o -iname '*c10_cuda*' \) | grep -q .; then
  fail "CUDA libraries in the folder"
fi
if find "$DIST" \( -path '*/torch/*' -o -name 'libtorch*' \) | grep -q .; then fail "torch files in the folder"; fi
find "$DIST" -name 'si-beatgan-v2.onnx' | grep -q . || fail "the bundled ONNX model is missing"
echo "folder size: $(du -sm "$DIST" | cut -f1) MiB ($DIST)"
echo "smoke_test: PASSED"
