"""``python -m trainer {dataset,train,evaluate,report,export}``."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields, replace
from pathlib import Path

from trainer.train import MODELS, REFERENCE, TrainConfig, TrainError, check_config, end_distributed

DEFAULT_DATA = Path("data/mitdb")


def _dataset(args: argparse.Namespace):
    from trainer.dataset import download_mitdb, get_dataset

    data_dir = Path(args.data_dir)
    if getattr(args, "download", False):
        download_mitdb(data_dir)
    ds, path, cached = get_dataset(data_dir, Path(args.cache_dir) if args.cache_dir else None,
                                   rebuild=getattr(args, "rebuild", False))
    return ds, path, cached


def cmd_dataset(args: argparse.Namespace) -> int:
    ds, path, cached = _dataset(args)
    print(f"{'cached' if cached else 'built'}: {path}")
    print(f"records: {len(ds.info['records'])}, beats: {len(ds)}, leads per record: MLII first")
    print("class counts: " + ", ".join(f"{k} {v}" for k, v in ds.counts().items()))
    print(f"N beats dropped by the R-peak check: {ds.info['dropped_n_rpeak']}; beats without a class: "
          f"{ds.info['dropped_unclassed']}; build {ds.info['build_s']} s")
    return 0


def _config(args: argparse.Namespace) -> TrainConfig:
    cfg = TrainConfig(model=args.model)
    if args.reference:
        cfg = replace(cfg, **REFERENCE)
    over = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name, None) is not None}
    cfg = replace(cfg, **over)
    check_config(cfg)
    return cfg


def cmd_train(args: argparse.Namespace) -> int:
    from trainer.splits import get_splits
    from trainer.train import Trainer

    cfg = _config(args)
    ds, _, _ = _dataset(args)
    sp = get_splits(args.split, ds.cls, ds.record)[args.fold]
    x = ds.leads(cfg.n_leads)
    out = Path(args.out or f"runs/{cfg.model}-{args.split}/fold{args.fold}")
    tr = Trainer(cfg, x[sp.train], x[sp.val], out, groups=ds.record[sp.train])
    if args.resume and (out / "ckpt.pt").is_file():
        tr.resume(out / "ckpt.pt")
        print(f"resumed at epoch {tr.state.epoch} step {tr.state.step_in_epoch}", file=sys.stderr)
    tr.fit(max_steps=args.max_steps)
    end_distributed()  # under torchrun: every rank leaves the process group together (not after an
    # error: a barrier then could wait forever for a rank that failed; torchrun stops the others)
    print(json.dumps(tr.state.history[-1] if tr.state.history else {}))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from trainer.evaluate import evaluate

    cfg = _config(args)
    ds, _, _ = _dataset(args)
    evaluate(ds, cfg, args.split, Path(args.results), Path(args.runs), name=args.name,
             folds=args.folds, progress=not args.quiet)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from trainer.report import write_report

    path = write_report(Path(args.results), Path(args.output))
    print(f"wrote {path}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from trainer.bundle import train_bundled_model

    from ecgviewer.core.errors import ModelError

    cfg = _config(args)
    ds, _, _ = _dataset(args)
    try:
        path = train_bundled_model(ds, cfg, Path(args.output), Path(args.results), version=args.version,
                                   weights=args.weights, result_name=args.result_name)
    except ValueError as e:
        print(f"trainer: error: {e}", file=sys.stderr)
        return 2
    except ModelError as e:  # the weights and card are written before the ONNX export is tried
        print(f"trainer: error: {e}; the weights and card are saved: add the export later with "
              f"python -m trainer onnx {Path(args.output).with_suffix('.json')}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


def cmd_card(args: argparse.Namespace) -> int:
    from trainer.bundle import refresh_card_metrics

    print(f"updated {refresh_card_metrics(Path(args.card), Path(args.results))}")
    return 0


def cmd_onnx(args: argparse.Namespace) -> int:
    from ecgviewer.core.errors import ModelError
    from ecgviewer.core.modelfile import add_onnx

    try:
        path = add_onnx(Path(args.card), opset=args.opset)
    except ModelError as e:
        print(f"trainer: error: {e}", file=sys.stderr)
        return 2
    except ImportError as e:
        print(f"trainer: error: {e} (the export needs the onnx package: pip install -e '.[trainer]')", file=sys.stderr)
        return 2
    print(f"wrote {path} and listed it in {args.card}")
    return 0


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=str(DEFAULT_DATA), help="folder with the MIT-BIH .hea/.dat/.atr files")
    p.add_argument("--cache-dir", help="dataset cache folder (default: the user cache directory)")
    p.add_argument("--download", action="store_true", help="fetch MIT-BIH from PhysioNet into --data-dir first")


def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", choices=MODELS, default="beatgan")
    p.add_argument("--reference", action="store_true", help="the paper's recipe: batch 64, lr 1e-4, 100 epochs")
    for f in fields(TrainConfig):
        if f.name == "model":
            continue
        kind = {int: int, float: float, str: str, bool: lambda s: s.lower() in ("1", "true", "yes")}[type(f.default)]
        p.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=kind, default=None,
                       help=f"(default {f.default!r})")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m trainer", description="Train and evaluate the BeatGAN family.")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dataset", help="build (or find cached) the MIT-BIH benchmark set and print class counts")
    _data_args(d)
    d.add_argument("--rebuild", action="store_true")
    d.set_defaults(func=cmd_dataset)
    t = sub.add_parser("train", help="train one model on one fold's normal training beats")
    _data_args(t)
    _train_args(t)
    t.add_argument("--split", choices=("intra", "inter"), default="intra")
    t.add_argument("--fold", type=int, default=0)
    t.add_argument("--out", help="run folder (default runs/MODEL-SPLIT/foldK)")
    t.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint")
    t.add_argument("--max-steps", type=int, help="stop (and checkpoint) after this many steps")
    t.set_defaults(func=cmd_train)
    e = sub.add_parser("evaluate", help="run the protocol: folds, AUC/AP, results JSON")
    _data_args(e)
    _train_args(e)
    e.add_argument("--split", choices=("intra", "inter"), default="intra")
    e.add_argument("--folds", type=int, nargs="*", help="only these folds (default all)")
    e.add_argument("--name", help="result name (default: the model)")
    e.add_argument("--results", default="results")
    e.add_argument("--runs", default="runs")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.set_defaults(func=cmd_evaluate)
    r = sub.add_parser("report", help="write docs/results.md from results/*.json")
    r.add_argument("--results", default="results")
    r.add_argument("--output", default="docs/results.md")
    r.set_defaults(func=cmd_report)
    x = sub.add_parser("export", help="train the bundled model on all benchmark N beats and write it with its card")
    _data_args(x)
    _train_args(x)
    x.add_argument("--output", default="resources/models/si-beatgan-v2")
    x.add_argument("--results", default="results")
    x.add_argument("--version", default="2.0.0")
    x.add_argument("--weights", choices=("auto", "generator", "ema"), default="auto",
                   help="ship the generator or its EMA teacher (auto: lower held-out normal error)")
    x.add_argument("--result-name", help="the results/ rows the card quotes (default: the model name)")
    x.set_defaults(func=cmd_export)
    c = sub.add_parser("card", help="refresh a model card's metrics from results/*.json")
    c.add_argument("card", nargs="?", default="resources/models/si-beatgan-v2.json")
    c.add_argument("--results", default="results")
    c.set_defaults(func=cmd_card)
    o = sub.add_parser("onnx", help="export a model's generator to ONNX (for the packaged viewer) and list it in its card")
    o.add_argument("card", nargs="?", default="resources/models/si-beatgan-v2.json")
    o.add_argument("--opset", type=int, default=17)
    o.set_defaults(func=cmd_onnx)
    __import__("trainer.crossdb").crossdb.add_parser(sub)  # all of crossdb lives in trainer/crossdb.py
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, TrainError) as e:
        print(f"trainer: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("trainer: interrupted; rerun the same command to continue", file=sys.stderr)
        return 130
