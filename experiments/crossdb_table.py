"""The "Other databases and the detector" table of docs/method.md, from crossdb-*.json rows
(results/ for those docs/results.md quotes, experiments/results/ for the rest).

    python -m experiments.crossdb_table results/crossdb-*.json experiments/results/crossdb-*.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _f(v, fmt: str = ".3f") -> str:
    return "-" if v is None else format(v, fmt)


def rows(path: Path) -> list[str]:
    d = json.loads(path.read_text())
    data = "MIT-BIH DS2" if "mitdb" in d["data"] else Path(d["data"]).name
    beats = d["beats"] + (f", marks {d['shift_ms']:+g} ms" if d.get("shift_ms") else "")
    out = []
    for name, m in d["variants"].items():
        c, s, w = m["auc_by_class"], m["sensitivity_by_class"], m["n_flagged_worst"] or {}
        out.append(f"| {data} | {beats} | {name} | {m['auc']:.3f} | {m['ap']:.3f} | {_f(c.get('S'))} | {_f(c.get('V'))} | "
                   f"{_f(c.get('F'))} | {m['threshold']:.3g} | {m['n_flagged_pooled']:.1%} | {w.get('record')} "
                   f"{w.get('share', 0):.0%} | {m['records_over_10pct']} of {m['n_records']} | {_f(s.get('S'), '.2f')} | "
                   f"{_f(s.get('V'), '.2f')} | {_f(s.get('F'), '.2f')} | {d['wall_s'] / 60:.0f} min |")
    return out


def main() -> int:
    print("| data | beats | variant | AUC | AP | S | V | F | threshold | N flagged | worst record | records > 10 % "
          "| S Se | V Se | F Se | run (all variants) |")
    print("|---" * 16 + "|")
    for p in sys.argv[1:]:
        print("\n".join(rows(Path(p))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
