"""How much does the benchmark's N-beat filter move the figures? A study, not a benchmark change.

The reference code (hi-bingo/BeatGAN, preprocess.py) keeps an N beat only when a detected R peak
lies *strictly* within 10 samples of its annotation, and its peaks come from biosppy's ``ecg.ecg``:
Hamilton's detector, then each peak moved to the maximum of the band-passed MLII within +-50 ms
(``correct_rpeaks``). That maximum is not the R peak of a beat whose QRS is mostly negative, so the
reference drops such normal beats, which are the hard ones for a model trained on typical beats.
Our benchmark (trainer/dataset.py) uses this project's detector with the peak it finds, and keeps
beats at <= 10 samples.

This script emulates the reference's correction on our detector's peaks (Hamilton's detector itself
is not reimplemented) and re-scores the test sets of finished evaluation runs two ways: all of
their N beats, and only those the emulated reference filter keeps. Anomalies are never filtered,
as in the reference. Nothing is retrained; the trained checkpoints under runs/ are read.

    python -m experiments.nfilter_study --data-dir ../shared/data/mitdb --runs beatgan-r3 si-beatgan-v2-r3
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ecgviewer.core.filters import bandpass
from ecgviewer.core.qrs import detect_qrs
from ecgviewer.core.record import load_record
from ecgviewer.core.scoring import RhythmModel, score_arrays
from trainer.checkpoint import load_generator
from trainer.dataset import BENCHMARK_RECORDS, get_dataset, nearest_distance
from trainer.evaluate import fold_metrics, fold_run_dir
from trainer.splits import get_splits

ROOT = Path(__file__).resolve().parents[1]  # the checkout: default runs/ and experiments/results/

CORRECT_S = 0.05  # biosppy's correct_rpeaks tolerance
STRICT_BELOW = 10  # the reference keeps |peak - annotation| < 10


def corrected_peaks(mlii_filtered: np.ndarray, peaks: np.ndarray, fs: float) -> np.ndarray:
    """Each peak moved to the maximum of the band-passed MLII within +-50 ms, as biosppy does."""
    tol = int(round(CORRECT_S * fs))
    out = np.empty(len(peaks), dtype=np.int64)
    for i, p in enumerate(peaks):
        a, b = max(0, p - tol), min(len(mlii_filtered), p + tol)
        out[i] = a + int(np.argmax(mlii_filtered[a:b]))
    return np.unique(out)


def reference_keep(data_dir: Path, ds) -> np.ndarray:
    """Per beat of ``ds``: would the emulated reference filter keep it? (non-N beats: always)."""
    keep = np.ones(len(ds), dtype=bool)
    for name in BENCHMARK_RECORDS:
        rec = load_record(data_dir / name)
        lead = rec.model_leads(1)[0]
        filt = bandpass(rec.signal[:, lead], rec.fs)
        peaks = corrected_peaks(filt, detect_qrs(rec.signal, rec.fs), rec.fs)
        m = (ds.record == name) & (ds.cls == "N")
        keep[m] = nearest_distance(ds.sample[m], peaks) < STRICT_BELOW
    return keep


def metrics(cls: np.ndarray, scores: np.ndarray) -> dict:
    m = fold_metrics(cls, scores)
    return {"auc": m["auc"], "ap": m["ap"]}


def study_run(ds, keep: np.ndarray, runs_dir: Path, name: str) -> dict | None:
    folds = []
    for split in get_splits("intra", ds.cls, ds.record):
        ck = fold_run_dir(runs_dir, name, "intra", split.fold) / "ckpt.pt"
        if not ck.is_file():
            continue
        g = load_generator(ck)
        x = ds.leads(g.cfg.n_leads)
        test = score_arrays(g, x[split.test])
        val = score_arrays(g, x[split.val])
        rhythm = RhythmModel.fit(ds.rhythm(split.train), val.mse)  # as trainer.evaluate.run_fold
        combined = rhythm.score(test.mse, ds.rhythm(split.test))
        cls = ds.cls[split.test]
        kept = keep[split.test]
        folds.append({"fold": split.fold, "n_test_N": int((cls == "N").sum()), "n_test_N_kept": int((kept & (cls == "N")).sum()),
                      "ours": {"mse": metrics(cls, test.mse), "rr": metrics(cls, combined)},
                      "reference_filter": {"mse": metrics(cls[kept], test.mse[kept]), "rr": metrics(cls[kept], combined[kept])}})
        print(f"{name} fold {split.fold}: morphology AUC {folds[-1]['ours']['mse']['auc']:.4f} -> "
              f"{folds[-1]['reference_filter']['mse']['auc']:.4f} with the reference filter", flush=True)
    if not folds:
        return None
    mean = {f"{which}_{kind}_{m}": float(np.mean([f[which][kind][m] for f in folds]))
            for which in ("ours", "reference_filter") for kind in ("mse", "rr") for m in ("auc", "ap")}
    return {"run": name, "folds": folds, "mean": mean}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--runs", nargs="+", required=True, help="evaluation names (runs/NAME-intra/foldK)")
    ap.add_argument("--runs-dir", type=Path, default=ROOT / "runs")
    ap.add_argument("--json", type=Path, default=ROOT / "experiments" / "results" / "nfilter-study.json")
    a = ap.parse_args(argv)
    ds, _, _ = get_dataset(a.data_dir)
    keep = reference_keep(a.data_dir, ds)
    n = ds.cls == "N"
    out = {"dataset": ds.info.get("cache_key"), "n_N": int(n.sum()), "n_N_dropped_by_reference_filter": int((n & ~keep).sum()),
           "dropped_by_record": {r: int(((ds.record == r) & n & ~keep).sum()) for r in BENCHMARK_RECORDS
                                 if ((ds.record == r) & n & ~keep).any()},
           "runs": []}
    print(f"reference filter drops {out['n_N_dropped_by_reference_filter']} of {out['n_N']} N beats "
          f"({100 * out['n_N_dropped_by_reference_filter'] / out['n_N']:.1f} %)", flush=True)
    for name in a.runs:
        r = study_run(ds, keep, a.runs_dir, name)
        if r:
            out["runs"].append(r)
    a.json.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({r["run"]: {k: round(v, 4) for k, v in r["mean"].items()} for r in out["runs"]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
