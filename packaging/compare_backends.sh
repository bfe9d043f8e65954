#!/usr/bin/env bash
# Measures the packaging decision of docs/packaging.md: the app folder with ONNX Runtime (the
# shipped spec) against the same app with CPU torch (the session-1 spec, commit 8a1c298, which ships
# the .pt weights and torch; onnxruntime is excluded there so that each build carries one runtime).
# Same sources, same machine, runs alternated: folder size, self-test time, start-up to a painted
# window (10-second record, so scoring is ~0), and the self-test's scoring speed.
#     packaging/compare_backends.sh            (~5 min here: two PyInstaller builds + 3 rounds)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
cd "$ROOT"
ROUNDS="${ROUNDS:-3}"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP" "$HERE/.ecgviewer-torch.spec"' EXIT

# both folders are rebuilt from the current sources (REUSE=1 keeps existing ones)
[ "${REUSE:-0}" = 1 ] && [ -x "$HERE/dist/ecgviewer/ecgviewer" ] || "$HERE/build.sh" --no-installer
git show 8a1c298:packaging/ecgviewer.spec \
  | sed 's/"sympy", "mpmath", "networkx", "jinja2", "torchvision", "torchaudio",/&\n    "onnxruntime", "onnx",/' \
  > "$HERE/.ecgviewer-torch.spec"   # in packaging/: the spec finds the repository from its own folder
if [ "${REUSE:-0}" != 1 ] || [ ! -x "$HERE/dist-torch/ecgviewer/ecgviewer" ]; then
  "$PYTHON" -m PyInstaller --noconfirm --clean --log-level ERROR \
      --distpath "$HERE/dist-torch" --workpath "$HERE/build-torch" "$HERE/.ecgviewer-torch.spec"
fi

ENVV=(env -i PATH=/usr/bin:/bin HOME="$TMP/home" LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen
      ECGVIEWER_CONFIG_DIR="$TMP/config" ECGVIEWER_LOG_DIR="$TMP/log")
mkdir -p "$TMP/home"
bash "$ROOT/packaging/cut_sample.sh" "$ROOT/resources/samples" "$TMP/cut"
secs() { local t0 t1; t0=$(date +%s.%N); "$@" > "$TMP/out.txt" 2>&1 || { cat "$TMP/out.txt"; exit 1; }; t1=$(date +%s.%N)
         awk "BEGIN{printf \"%.2f\", $t1 - $t0}"; }

echo "cores $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
for name in onnx torch; do
  d="$HERE/dist/ecgviewer"; [ $name = torch ] && d="$HERE/dist-torch/ecgviewer"
  echo "$name: folder $(du -sm "$d" | cut -f1) MiB"
done
for r in $(seq "$ROUNDS"); do
  for name in onnx torch; do
    d="$HERE/dist/ecgviewer"; [ $name = torch ] && d="$HERE/dist-torch/ecgviewer"
    st=$(secs "${ENVV[@]}" "$d/ecgviewer" --self-test); rate=$(grep -o '([0-9,]* beats/s)' "$TMP/out.txt")
    back=$(grep -o 'model backend [a-z]*' "$TMP/out.txt")
    up=$(secs "${ENVV[@]}" ECGVIEWER_STARTUP_TRACE=1 "$d/ecgviewer" "$TMP/cut/119" --screenshot "$TMP/shot.png")
    painted=$(grep '^startup:' "$TMP/out.txt" | sed 's/^startup: //' | paste -sd ';' | sed 's/;/; /g')
    echo "round $r $name ($back): self-test ${st} s, scoring 1987 beats $rate; ${painted}; launch -> scored 10-s record saved and exited ${up} s"
  done
done
