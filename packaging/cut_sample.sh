#!/usr/bin/env bash
# Write the first 10 seconds of the bundled sample record 119 into a folder, for start-up timings
# (a record this short is scored in ~0 s, so the time measured is the app's start-up).
#   packaging/cut_sample.sh SAMPLE_DIR OUT_DIR
set -euo pipefail
src="$1"; out="$2"
mkdir -p "$out"
sed '1s/^119 2 360 [0-9]*/119 2 360 3600/' "$src/119.hea" > "$out/119.hea"
head -c 10800 "$src/119.dat" > "$out/119.dat"   # format 212: 3 bytes per sample pair, 3600 pairs
