#!/usr/bin/env bash
# Pack what a GPU machine without network needs: the wfdb and platformdirs wheels and MIT-BIH
# (read-only source). Records 119 and 208 travel as resources/samples, so the tarball leaves them out
# and the whole tree stays under the device tool's 64 MiB.
set -eu
DATA=${1:-../shared/data/mitdb}
mkdir -p .carry/wheels
pip download -q --no-deps -d .carry/wheels wfdb platformdirs
tar cf - -C "$DATA" $(cd "$DATA" && ls *.hea *.dat *.atr | grep -v "^119\.\|^208\.") | xz -T2 -9e > .carry/mitdb.tar.xz
du -sh .carry
