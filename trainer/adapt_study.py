"""What test-time self-adaptation buys: each record scored with and without it, through the Scorer.

``python -m trainer.adapt_study DIR [RECORD ...] [--detect] [--out FILE.json]`` prints, per record and
pooled, AUC of all anomalies (S, V, F, Q) vs N, V vs N, and the share of N beats at or over the
model's default threshold, before and after adaptation. With ``--detect`` the beats come from the
product's QRS detector and take their class from the reference beat within 150 ms (EC57), which is
what a user's unannotated recording goes through. The AdaptConfig options choose the recipe.

Records of a test set (qtdb-x) are reported once per recipe here; settings are chosen on MIT-BIH.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np

from ecgviewer.core.adapt import AdaptConfig
from ecgviewer.core.classes import ANOMALY_CLASSES, classify
from ecgviewer.core.errors import RecordError
from ecgviewer.core.flag_metrics import reference_labels
from ecgviewer.core.record import load_record
from ecgviewer.core.scorer import Scorer
from trainer.metrics import roc_auc


def _auc(pos: np.ndarray, neg: np.ndarray) -> float | None:
    """ROC AUC of scores ``pos`` over ``neg`` (ties count half); None when a side is empty."""
    if not len(pos) or not len(neg):
        return None
    return roc_auc(np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg])


def _metrics(cls: np.ndarray, score: np.ndarray, mse: np.ndarray, threshold: float) -> dict:
    n = cls == "N"
    anom = np.isin(cls, ANOMALY_CLASSES)
    v = cls == "V"
    return {"auc": _auc(score[anom], score[n]), "auc_v": _auc(score[v], score[n]),
            "mse_auc": _auc(mse[anom], mse[n]), "n_flagged": float((score[n] >= threshold).mean()) if n.any() else None,
            "v_sensitivity": float((score[v] >= threshold).mean()) if v.any() else None,
            "n_median_mse": float(np.median(mse[n])) if n.any() else None}


def study_record(scorer: Scorer, path: Path, cfg: AdaptConfig, detect: bool, lead: int | None = None) -> dict:
    """Both scorings of one record; the arrays are kept for the pooled figures."""
    rec = load_record(path)
    if lead is not None:  # another recorder, simulated on MIT-BIH: the model reads a lead it never saw
        if lead >= rec.n_channels:
            raise RecordError(path, f"no channel {lead}")
        rec = rec.only_channel(lead, name="ECG")
    beats = scorer.beats(rec, detect=detect)
    if detect:
        ann = rec.annotations
        sym = reference_labels(beats.sample, ann.sample, ann.symbol, rec.fs) if ann is not None else None
        cls = classify(np.asarray(sym, dtype=str)) if sym is not None else np.full(len(beats), "")
    else:
        cls = beats.cls
    before = scorer.score(beats)
    t0 = time.perf_counter()
    after = scorer.score(beats, adapt=cfg)
    secs = time.perf_counter() - t0
    log = scorer.adapt_log
    thr = scorer.threshold
    return {"record": path.name, "beats": len(beats), "n": int((cls == "N").sum()),
            "anomalies": int(np.isin(cls, ANOMALY_CLASSES).sum()), "seconds": secs, "steps": log.steps if log else 0,
            "before": _metrics(cls, before.score, before.mse, thr), "after": _metrics(cls, after.score, after.mse, thr),
            "_arrays": (cls, before.score, after.score, before.mse, after.mse)}


def _fmt(v: float | None, pct: bool = False) -> str:
    if v is None:
        return "-"
    return f"{100 * v:.1f}%" if pct else f"{v:.3f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m trainer.adapt_study", description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, help="folder of WFDB records with reference beat annotations")
    ap.add_argument("records", nargs="*", help="record names (default: every record in the folder)")
    ap.add_argument("--detect", action="store_true", help="beats from the product's QRS detector, classes by EC57 matching")
    ap.add_argument("--lead", type=int, default=None,
                    help="score this channel (0-based) as the model's lead instead of MLII: a recorder the model never saw")
    ap.add_argument("--model", default=None, help="model card (default: the bundled model)")
    ap.add_argument("--out", type=Path, default=None, help="write the rows as JSON here")
    for f in fields(AdaptConfig):
        if f.name == "budget_s":
            continue
        ap.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=type(f.default), default=f.default, help=f"AdaptConfig.{f.name}")
    a = ap.parse_args(argv)
    cfg = AdaptConfig(**{f.name: getattr(a, f.name) for f in fields(AdaptConfig) if f.name != "budget_s"},
                      budget_s=None)
    names = a.records or sorted(p.stem for p in a.data.glob("*.hea"))
    scorer = Scorer.load(a.model, backend="torch")
    rows, pooled = [], []
    print(f"{'record':>10} {'beats':>6} {'AUC':>13} {'V-vs-N':>13} {'N flagged':>15} {'s':>5}")
    for name in names:
        try:
            r = study_record(scorer, a.data / name, cfg, a.detect, a.lead)
        except RecordError as e:
            print(f"{name}: skipped ({e})", file=sys.stderr)
            continue
        pooled.append(r.pop("_arrays"))
        rows.append(r)
        b, f = r["before"], r["after"]
        print(f"{name:>10} {r['beats']:>6} {_fmt(b['auc'])}->{_fmt(f['auc'])} {_fmt(b['auc_v'])}->{_fmt(f['auc_v'])} "
              f"{_fmt(b['n_flagged'], True):>6}->{_fmt(f['n_flagged'], True):>6} {r['seconds']:5.1f}", flush=True)
    cls, sb, sa, mb, ma = (np.concatenate(c) for c in zip(*pooled))
    pool = {"before": _metrics(cls, sb, mb, scorer.threshold), "after": _metrics(cls, sa, ma, scorer.threshold)}
    worst = {k: max((r[k]["n_flagged"] or 0.0) for r in rows) for k in ("before", "after")}
    print(f"{'pooled':>10} {len(cls):>6} {_fmt(pool['before']['auc'])}->{_fmt(pool['after']['auc'])} "
          f"{_fmt(pool['before']['auc_v'])}->{_fmt(pool['after']['auc_v'])} "
          f"{_fmt(pool['before']['n_flagged'], True):>6}->{_fmt(pool['after']['n_flagged'], True):>6}; "
          f"V sensitivity {_fmt(pool['before']['v_sensitivity'])}->{_fmt(pool['after']['v_sensitivity'])}")
    print(f"worst record N flagged: {100 * worst['before']:.1f}% -> {100 * worst['after']:.1f}%; "
          f"records with a higher AUC after: {sum((r['after']['auc'] or 0) > (r['before']['auc'] or 0) for r in rows)}"
          f" of {len(rows)}; mean seconds {np.mean([r['seconds'] for r in rows]):.1f}")
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps({"config": asdict(cfg), "detect": a.detect, "lead": a.lead, "data": str(a.data),
                                     "records": rows, "pooled": pool, "worst_n_flagged": worst}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
