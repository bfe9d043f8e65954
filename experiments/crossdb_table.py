"""Every variant of ``trainer crossdb`` rows (the product's page, docs/results.md, shows two of them):
the "Other databases and the detector" table of docs/method.md.

    python -m experiments.crossdb_table results/crossdb-*.json experiments/results/crossdb-*.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from trainer.report import CROSSDB_FULL_HEADER, crossdb_rows


def main() -> int:
    print("\n".join(CROSSDB_FULL_HEADER))
    for p in sys.argv[1:]:
        print("\n".join(crossdb_rows(json.loads(Path(p).read_text()), full=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
