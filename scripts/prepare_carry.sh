#!/usr/bin/env bash
# Pack what a GPU machine without network needs: the wfdb wheel and MIT-BIH (read-only source).
set -eu
DATA=${1:-../shared/data/mitdb}
mkdir -p .carry/wheels
pip download -q --no-deps -d .carry/wheels wfdb
tar cf - -C "$DATA" $(cd "$DATA" && ls *.hea *.dat *.atr) | xz -T2 -6 > .carry/mitdb.tar.xz
du -sh .carry
