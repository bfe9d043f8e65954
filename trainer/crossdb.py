"""Evaluation on what users meet: whole databases scored through the product's own Scorer.

``python -m trainer crossdb --model CARD --data DIR --beats reference|detector --out results/x.json``
scores every record of ``DIR`` (MIT-BIH: DS2 by default; any other folder: all its annotated
records) as ``ecgviewer score`` does, with the beat marks of the reference annotations or of the
product's QRS detector. Detected beats take their class from the reference beat within 150 ms
(EC57 matching, ``core.flag_metrics``); a reference beat the detector missed counts as not flagged.

Reported per scoring variant: AUC and AP (anomaly vs N, and S, V, F, Q each vs N), and at the
variant's default threshold the share of N beats flagged (pooled, worst record, records over 10 %)
and the sensitivity per class. The variants share each reconstruction (same windows, same network):

- ``baseline``: windows at the marks, the card's raw score and threshold (the model as shipped up to 2.1.0);
- ``align``: windows on the core's fiducial (``core.fiducial``), raw score and threshold;
- ``scale``: + each record on its own scale (``core.robust``), morphology alone;
- ``robust``: + the robust rhythm channel, joined by the sum of tail scores (the card's ``robust_score`` rule).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ecgviewer.core.classes import ANOMALY_CLASSES, CLASSES, classify
from ecgviewer.core.flag_metrics import reference_labels
from ecgviewer.core.model.card import ModelCard
from ecgviewer.core.record import load_record
from ecgviewer.core.scorer import Scorer
from trainer.config import TrainError
from trainer.splits import DS1, DS2

VARIANTS = ("baseline", "align", "scale", "robust")
FLOOD_SHARE = 0.10


def product_variant(card: ModelCard) -> str:
    """The variant that scores as ``ecgviewer score`` does with this card (``Scorer.load``): the
    robust rule where the card has one, else the raw score on the card's window rule. A card
    quotes the rows of this variant only (``trainer.bundle.measured_rows``)."""
    if card.robust_score is not None:
        return "robust"
    return "align" if card.preprocessing.align == "peak" else "baseline"


def scorers(path: str | None, variants: tuple[str, ...] = VARIANTS) -> dict[str, Scorer]:
    """One Scorer per variant (one loaded network); the scale variants need a card with ``robust_score``."""
    base = Scorer.load(path, rule=None)
    field = base.model.card.robust_score
    rule = field.rule() if field is not None else None
    out = {}
    for v in variants:
        if v in ("scale", "robust") and rule is None:
            raise FileNotFoundError(f"{base.model.path}: the card has no robust_score rule (python -m trainer robust-fit)")
        if v == "baseline":
            out[v] = Scorer(base.model, align="none", rule=None)
        elif v == "align":
            out[v] = Scorer(base.model, align="peak", rule=None)
        elif v == "scale":
            out[v] = Scorer(base.model, align="peak", rule=replace(rule, rhythm=None))
        elif v == "robust":
            out[v] = Scorer(base.model, align="peak", rule=rule)
        else:
            raise ValueError(f"unknown variant {v!r}: one of {', '.join(VARIANTS)}")
    return out


def record_names(data: Path, records: str | None) -> list[str]:
    """DS1/DS2/a comma list; default: MIT-BIH's DS2, or every record with an .atr in any other folder."""
    if records in ("ds1", "ds2"):
        return list(DS1 if records == "ds1" else DS2)
    if records:
        return records.split(",")
    if (data / "100.hea").is_file() and (data / "100.atr").is_file():
        return list(DS2)
    return sorted(p.stem for p in data.glob("*.hea") if p.with_suffix(".atr").is_file())


def database_label(d: dict) -> str:
    """What a crossdb file scored, in words: "MIT-BIH DS2", "MIT-BIH DS1", else its folder's name,
    with "(some records)" when it scored a chosen subset."""
    names = list(d.get("records") or [])
    if names in (list(DS2), list(DS1)):
        return "MIT-BIH DS2" if names == list(DS2) else "MIT-BIH DS1"
    return Path(d["data"]).name + (" (some records)" if d.get("subset") else "")


def is_whole_database(d: dict) -> bool:
    """Whether a crossdb file scored its folder's default set (DS2 for MIT-BIH, else every annotated
    record), by what the file itself says (``subset``: the --records asked for, None for the default)."""
    return "subset" in d and d["subset"] is None


def shifted(record, ms: float):
    """The record with every reference mark moved by ``ms`` (what another annotator's fiducial does)."""
    ann = record.annotations
    d = round(ms * 1e-3 * record.fs)
    return replace(record, annotations=replace(ann, sample=np.clip(ann.sample + d, 0, record.n_samples - 1)))


def classed_beats(scorer: Scorer, record, detect: bool):
    """The scorer's beats of a record; ``detect``: the detector's, each classed by the reference
    beat within 150 ms (EC57 matching), '' when none is."""
    beats = scorer.beats(record, detect=detect)
    if detect:
        ann = record.annotations
        beats.cls = classify(reference_labels(beats.sample, ann.sample, ann.symbol, record.fs))
    return beats


def score_record(path: Path, by_variant: dict[str, Scorer], detect: bool, shift_ms: float = 0.0,
                 second_lead: bool = False) -> dict:
    """Per-variant scores of one record, with each beat's reference class ('' when unmatched).
    ``second_lead``: score the lead the model does not read, alone and named plain "ECG" (a one-lead
    recorder of a lead the model was not built for)."""
    record = load_record(path)
    if second_lead:
        try:
            record = record.only_channel(record.second_channel(), name="ECG")
        except IndexError as e:
            raise TrainError(f"--second-lead: {e}") from None
    if shift_ms:
        record = shifted(record, shift_ms)
    ann = record.annotations
    ref_cls = classify(ann.symbol) if ann is not None else np.zeros(0, "<U1")
    n_ref = {c: int((ref_cls == c).sum()) for c in CLASSES}
    out = {"record": record.name, "n_ref": n_ref, "variants": {}}
    cache: dict[str, tuple] = {}
    for name, scorer in by_variant.items():
        align = scorer.params.align
        if align not in cache:
            beats = classed_beats(scorer, record, detect)
            cache[align] = (beats, *scorer.reconstruct(beats))
        beats, recon, err = cache[align]
        res = scorer.finish(beats, recon, err)
        out["variants"][name] = {"score": res.score, "cls": beats.cls, "threshold": scorer.threshold}
        out["lead_note"] = beats.lead_note
        out["n_beats"] = len(beats)
    return out


def metrics(rows: list[dict], variant: str) -> dict:
    """Pooled AUC/AP per class and the flag shares at the variant's threshold."""
    from trainer.evaluate import fold_metrics

    cls = np.concatenate([r["variants"][variant]["cls"] for r in rows])
    score = np.concatenate([r["variants"][variant]["score"] for r in rows]).astype(np.float64)
    thr = float(rows[0]["variants"][variant]["threshold"])
    known = np.isin(cls, CLASSES)
    m = fold_metrics(cls[known], score[known])
    shares = {}
    for r in rows:
        v = r["variants"][variant]
        n = v["cls"] == "N"
        if n.any():
            shares[r["record"]] = float((v["score"][n] >= thr).mean())
    flagged = score >= thr
    n_ref = {c: sum(r["n_ref"][c] for r in rows) for c in CLASSES}
    sens = {c: (float(flagged[cls == c].sum() / n_ref[c]) if n_ref[c] else None) for c in ANOMALY_CLASSES}
    worst = max(shares, key=shares.get) if shares else None
    return {
        "auc": m["auc"], "ap": m["ap"], "auc_by_class": m["auc_by_class"], "threshold": thr,
        "n_flagged_pooled": float(flagged[cls == "N"].mean()) if (cls == "N").any() else None,
        "n_flagged_worst": {"record": worst, "share": shares[worst]} if worst else None,
        "records_over_10pct": int(sum(s > FLOOD_SHARE for s in shares.values())), "n_records": len(shares),
        "sensitivity_by_class": sens,
        "sensitivity_anomalies": float(sum(flagged[cls == c].sum() for c in ANOMALY_CLASSES)
                                       / max(sum(n_ref[c] for c in ANOMALY_CLASSES), 1)),
        "n_flagged_by_record": shares,
    }


def run(model: str | None, data: Path, beats: str, records: str | None = None,
        variants: tuple[str, ...] = VARIANTS, shift_ms: float = 0.0, second_lead: bool = False,
        per_beat: bool = False) -> dict:
    """The summary of one database; ``per_beat`` adds each variant's scores, classes and records
    (key ``per_beat``), for studies of other thresholds that need no second pass of the network."""
    from trainer.evaluate import hardware

    t0 = time.perf_counter()
    by_variant = scorers(model, variants)
    names = record_names(data, records)
    rows = []
    for i, name in enumerate(names):
        rows.append(score_record(data / name, by_variant, detect=beats == "detector", shift_ms=shift_ms, second_lead=second_lead))
        print(f"crossdb: {i + 1}/{len(names)} {name}", file=sys.stderr, flush=True)
    first = next(iter(by_variant.values()))
    matched = sum(int(np.isin(r["variants"][variants[0]]["cls"], CLASSES).sum()) for r in rows)
    n_ref = sum(sum(r["n_ref"].values()) for r in rows)
    out = {
        "model": first.name, "card": str(first.model.path),
        # the weights measured: a card quotes only rows of its own weights (trainer card)
        "weights_sha256": first.model.card.weights.sha256 if first.model.card.weights else None,
        "data": str(data), "beats": beats, "records": names, "subset": records, "shift_ms": shift_ms, "second_lead": second_lead,
        "reference_beats": n_ref, "beats_with_class": matched,
        "lead_notes": {r["record"]: r["lead_note"] for r in rows if r["lead_note"]},
        "variants": {v: metrics(rows, v) for v in variants},
        "hardware": hardware(), "wall_s": round(time.perf_counter() - t0, 1),
        "command": "python -m trainer crossdb " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["crossdb"] else None,
    }
    if per_beat:
        out["per_beat"] = {v: {"score": np.concatenate([r["variants"][v]["score"] for r in rows]).astype(np.float64),
                               "cls": np.concatenate([r["variants"][v]["cls"] for r in rows]),
                               "record": np.concatenate([np.full(len(r["variants"][v]["cls"]), r["record"])
                                                         for r in rows]),
                               "threshold": float(rows[0]["variants"][v]["threshold"]),
                               # reference beats per class: a missed one counts as not flagged
                               **{f"n_ref_{c}": sum(r["n_ref"][c] for r in rows) for c in CLASSES}}
                           for v in variants}
    return out


def save_per_beat(path: Path, per_beat: dict) -> None:
    """Each variant's per-beat arrays as ``VARIANT/score``, ``VARIANT/cls``, ``VARIANT/record``."""
    arrays = {f"{v}/{k}": np.asarray(a) for v, d in per_beat.items() for k, a in d.items()}
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The ``crossdb`` subcommand (the one hook in trainer/cli.py)."""
    p = sub.add_parser("crossdb", help="score whole databases through the product's Scorer (reference or detector beats)")
    p.add_argument("--model", help="model card (default: the bundled model)")
    p.add_argument("--data", required=True, type=Path, help="folder of WFDB records with .atr annotations")
    p.add_argument("--beats", choices=("reference", "detector"), default="reference",
                   help="beats from the reference annotations or the product's QRS detector (default: %(default)s)")
    p.add_argument("--records", help="ds1, ds2 or a comma list (default: DS2 for MIT-BIH, else all)")
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"comma list of {', '.join(VARIANTS)}")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: on a shared 2-core machine 2.6x faster than 2, measured)")
    p.add_argument("--shift-ms", type=float, default=0.0, help="move every reference mark by this much first")
    p.add_argument("--second-lead", action="store_true", help="score each record's other lead alone, as plain "
                   "'ECG' (MIT-BIH: V1, V2, V4, V5): a one-lead recorder of a lead other than MLII")
    p.add_argument("--out", type=Path, help="results JSON (default: print); the per-beat scores go beside it "
                   "(OUT.beats.npz)")
    p.set_defaults(func=cmd_crossdb)


def cmd_crossdb(args: argparse.Namespace) -> int:
    if not args.data.is_dir():
        raise FileNotFoundError(f"{args.data}: no such folder")
    import torch

    torch.set_num_threads(args.threads)
    out = run(args.model, args.data, args.beats, args.records, tuple(args.variants.split(",")), args.shift_ms,
              args.second_lead, per_beat=bool(args.out))
    per_beat = out.pop("per_beat", None)
    text = json.dumps(out, indent=1) + "\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        save_per_beat(args.out.with_suffix(".beats.npz"), per_beat)  # beside the summary, for threshold studies
    else:
        sys.stdout.write(text)
    for v, m in out["variants"].items():
        w = m["n_flagged_worst"] or {}
        print(f"{v:9s} AUC {m['auc']:.3f} AP {m['ap']:.3f} V {m['auc_by_class'].get('V', float('nan')):.3f} "
              f"N flagged {m['n_flagged_pooled']:.3%} (worst {w.get('record')} {w.get('share', 0):.1%}, "
              f"{m['records_over_10pct']}/{m['n_records']} > 10 %) V Se {m['sensitivity_by_class']['V']}",
              file=sys.stderr)
    return 0
