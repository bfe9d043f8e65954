"""The margin a model keeps between ventricular and normal beats: median reconstruction error of
V beats over that of N beats, per record (aligned windows, the product's beat cutting).

AUC keeps the order of the beats and misses this: a model can rank V beats above N beats as well
as before and still put them under every threshold set on normal beats (docs/method.md, session 8).

    python -m experiments.margin_check resources/models/si-beatgan-v2.json OUT/si-beatgan-v2.json \\
        runs/x/fold0/ckpt.pt --data ../shared/data/mitdb --records 208 119 200

Each model is a card (.json, scored through the product's Scorer) or a trainer checkpoint (.pt).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ecgviewer.core.beats import BeatParams, extract_beats
from ecgviewer.core.record import load_record


def record_mse(model: Path, beats) -> np.ndarray:
    """Per-beat MSE of ``beats`` under a card or a checkpoint."""
    if model.suffix == ".json":
        from ecgviewer.core.scorer import Scorer

        return Scorer.load(model, rule=None).score(beats).mse
    from ecgviewer.core.scoring import score_arrays
    from trainer.checkpoint import load_generator

    return score_arrays(load_generator(model).eval(), beats.x).mse


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="MIT-BIH folder")
    ap.add_argument("--records", nargs="+", default=["208", "119", "200", "233", "106"])
    ap.add_argument("models", nargs="+", type=Path, help="cards (.json) or checkpoints (.pt)")
    a = ap.parse_args(argv)
    beats = {r: extract_beats(load_record(a.data / r), BeatParams(n_leads=1)) for r in a.records}
    print("| model | " + " | ".join(a.records) + " |")
    print("|---|" + "---|" * len(a.records))
    for m in a.models:
        ratios = []
        for b in beats.values():
            mse = record_mse(m, b)
            ratios.append(float(np.median(mse[b.cls == "V"]) / np.median(mse[b.cls == "N"])))
        print(f"| {m} | " + " | ".join(f"{v:.1f}" for v in ratios) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
