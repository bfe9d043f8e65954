"""``python -m trainer {dataset,train,evaluate,report,export,card,onnx,crossdb,robust-fit}``.

Recipe options come from ``TrainConfig``'s fields (their help text is the field's), machine
options from ``MachineConfig``'s; ``--preset NAME`` starts from a named recipe and any recipe
option given beside it overrides that preset's value. A bad value is one line and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields, replace
from pathlib import Path

from trainer.config import (
    MODELS,
    PRESETS,
    REFERENCE,
    MachineConfig,
    TrainConfig,
    TrainError,
    check_machine,
    preset,
    recipe_id,
)

DEFAULT_DATA = Path("data/mitdb")
BUNDLED_MODELS = Path(__file__).resolve().parents[1] / "resources" / "models"


class Parser(argparse.ArgumentParser):
    """argparse, with its errors in one line (the usage of 40 options would bury the message)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def parse_bool(text: str) -> bool:
    value = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}
    try:
        return value[text.strip().lower()]
    except KeyError:
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}") from None


parse_bool.__name__ = "true or false"  # argparse's fallback wording names the parser


def parse_device(text: str) -> str:
    if text == "auto":
        return text
    import torch

    try:
        torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda, cuda:N or mps, got {text!r}") from None
    return text


def _dataset(args: argparse.Namespace, align: str = "none"):
    """The benchmark set with windows cut by ``align`` (the recipe's ``align``: part of the recipe)."""
    from trainer.dataset import DEFAULT_PARAMS, download_mitdb, get_dataset

    data_dir = Path(args.data_dir)
    if getattr(args, "download", False):
        download_mitdb(data_dir)
    ds, path, cached = get_dataset(data_dir, Path(args.cache_dir) if args.cache_dir else None,
                                   params=replace(DEFAULT_PARAMS, align=align), rebuild=getattr(args, "rebuild", False))
    return ds, path, cached


def cmd_dataset(args: argparse.Namespace) -> int:
    ds, path, cached = _dataset(args, args.align)
    print(f"{'cached' if cached else 'built'}: {path}")
    print(f"records: {len(ds.info['records'])}, beats: {len(ds)}, leads per record: MLII first")
    print("class counts: " + ", ".join(f"{k} {v}" for k, v in ds.counts().items()))
    print(f"N beats dropped by the R-peak check: {ds.info['dropped_n_rpeak']}; beats without a class: "
          f"{ds.info['dropped_unclassed']}; build {ds.info['build_s']} s")
    return 0


def _config(args: argparse.Namespace) -> tuple[TrainConfig, MachineConfig]:
    """The recipe (preset or model, then --reference, then each recipe option given) and the
    machine; refused here, before any data is read, when this machine cannot run it."""
    from trainer.train import pick_device

    cfg = preset(args.preset) if args.preset else TrainConfig(model=args.model or "beatgan")
    if args.reference:
        cfg = replace(cfg, **REFERENCE)
    over = {f.name: getattr(args, f.name) for f in fields(TrainConfig)
            if f.name != "preset" and getattr(args, f.name, None) is not None}
    cfg = replace(cfg, **over)
    if args.preset and PRESETS[args.preset].needs_teacher and not cfg.teacher:
        raise TrainError(f"--preset {args.preset} distils a trained teacher: give --teacher CKPT "
                         "(for instance runs/si-beatgan-v2-intra/fold{fold}/ckpt.pt)")
    machine = MachineConfig(**{f.name: getattr(args, f.name) for f in fields(MachineConfig)
                               if getattr(args, f.name, None) is not None})
    check_machine(machine, pick_device(machine.device).type)
    return cfg, machine


def cmd_train(args: argparse.Namespace) -> int:
    from trainer.distributed import end_distributed
    from trainer.splits import get_splits
    from trainer.train import Trainer

    cfg, machine = _config(args)
    ds, _, _ = _dataset(args, cfg.align)
    sp = get_splits(args.split, ds.cls, ds.record)[args.fold]
    out = Path(args.out or f"runs/{cfg.preset or cfg.model}-{args.split}/fold{args.fold}")
    tr = Trainer(cfg, out_dir=out, machine=machine,
                 **ds.trainer_inputs(cfg, sp.train, sp.val))
    if args.resume and (out / "ckpt.pt").is_file():
        tr.resume(out / "ckpt.pt")
        print(f"resumed at epoch {tr.state.epoch} step {tr.state.step_in_epoch}", file=sys.stderr)
    print(f"recipe {cfg.preset or cfg.model} (id {recipe_id(cfg)}) -> {out}", file=sys.stderr)
    tr.fit(max_steps=args.max_steps)
    end_distributed()  # under torchrun: every rank leaves the process group together (not after an
    # error: a barrier then could wait forever for a rank that failed; torchrun stops the others)
    print(json.dumps(tr.state.history[-1] if tr.state.history else {}))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from trainer.evaluate import evaluate

    cfg, machine = _config(args)
    ds, _, _ = _dataset(args, cfg.align)
    evaluate(ds, cfg, args.split, Path(args.results), Path(args.runs), name=args.name,
             folds=args.folds, progress=not args.quiet, machine=machine)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from trainer.report import write_report

    path = write_report(Path(args.results), Path(args.output))
    print(f"wrote {path}")
    return 0


def _inside_bundled_models(path: Path) -> bool:
    """Whether ``path`` lies in the bundled models' folder (this checkout's, or ./resources/models)."""
    target = path.resolve()
    return any(target.is_relative_to(d.resolve()) for d in (BUNDLED_MODELS, Path("resources/models")))


def cmd_export(args: argparse.Namespace) -> int:
    from ecgviewer.core.errors import ModelError
    from trainer.bundle import train_bundled_model
    from trainer.splits import DS1

    output = Path(args.output)
    if _inside_bundled_models(output) and not args.force:
        print(f"trainer: error: {output} is in the bundled models' folder: exporting there replaces the model "
              "the viewer ships. Write elsewhere, or add --force to replace it on purpose.", file=sys.stderr)
        return 2
    cfg, machine = _config(args)
    ds, _, _ = _dataset(args, cfg.align)
    try:
        path = train_bundled_model(ds, cfg, output, Path(args.results), version=args.version,
                                   weights=args.weights, result_name=args.result_name, machine=machine,
                                   train_records=DS1 if args.train_records == "ds1" else None)
    except ValueError as e:
        print(f"trainer: error: {e}", file=sys.stderr)
        return 2
    except ModelError as e:  # the weights and card are written before the ONNX export is tried
        print(f"trainer: error: {e}; the weights and card are saved: add the export later with "
              f"python -m trainer onnx {output.with_suffix('.json')}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


def cmd_card(args: argparse.Namespace) -> int:
    from trainer.bundle import refresh_card_metrics

    print(f"updated {refresh_card_metrics(Path(args.card), Path(args.results))}")
    return 0


def cmd_onnx(args: argparse.Namespace) -> int:
    from ecgviewer.core.errors import ModelError
    from trainer.export import add_onnx

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


# ---- options ---------------------------------------------------------------------------------------

def _data_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--data-dir", default=str(DEFAULT_DATA), help="folder with the MIT-BIH .hea/.dat/.atr files "
                   "(default: %(default)s)")
    g.add_argument("--cache-dir", help="dataset cache folder (default: the user cache directory)")
    g.add_argument("--download", action="store_true", help="fetch MIT-BIH from PhysioNet into --data-dir first")


def _help(f, default) -> str:
    return f"{f.metadata['help']} (default: {default})"


def _recipe_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("recipe", "what is trained (trainer/config.py); the recipe id names it in "
                                       "checkpoints and results")
    g.add_argument("--preset", choices=tuple(PRESETS), help="start from a named recipe (listed below); recipe "
                   "options given beside it override its values")
    model = next(f for f in fields(TrainConfig) if f.name == "model")
    g.add_argument("--model", choices=MODELS, help=_help(model, "the preset's, else beatgan"))
    g.add_argument("--reference", action="store_true",
                   help="the paper's schedule on top: batch 64, lr 1e-4 constant, 100 epochs")
    for f in fields(TrainConfig):
        if f.name in ("model", "preset"):
            continue
        g.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=type(f.default), default=None,
                       choices=f.metadata.get("choices"), help=_help(f, repr(f.default) if f.default == "" else f.default))
    m = p.add_argument_group("machine", "where and how fast it runs (not part of the recipe)")
    for f in fields(MachineConfig):
        kind = {bool: parse_bool, int: int}.get(type(f.default), parse_device if f.name == "device" else str)
        m.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=kind, default=None,
                       metavar="{true,false}" if kind is parse_bool else None,
                       help=_help(f, str(f.default).lower() if isinstance(f.default, bool) else f.default))


PRESET_LIST = "presets (--preset NAME):\n" + "\n".join(f"  {n:<14} {p.why}" for n, p in PRESETS.items())


def _recipe_parser(sub, name: str, help: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help, description=help, epilog=PRESET_LIST,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _data_args(p)
    _recipe_args(p)
    return p


def _split_arg(g: argparse._ArgumentGroup) -> argparse._ArgumentGroup:
    g.add_argument("--split", choices=("intra", "inter"), default="intra",
                   help="intra: BeatGAN's 5-fold split of all records; inter: DS1 -> DS2 (default: %(default)s)")
    return g


def _results_arg(p: argparse.ArgumentParser | argparse._ArgumentGroup, what: str = "folder of the result JSON files") -> None:
    p.add_argument("--results", default="results", help=f"{what} (default: %(default)s)")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m trainer", description="Train and evaluate the BeatGAN family.")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dataset", help="build (or find cached) the MIT-BIH benchmark set and print class counts")
    _data_args(d)
    d.add_argument("--rebuild", action="store_true", help="build the set again even if a cached copy matches")
    d.add_argument("--align", choices=("none", "peak"), default="none",
                   help="window rule, as a recipe's --align (default: %(default)s)")
    d.set_defaults(func=cmd_dataset)

    t = _recipe_parser(sub, "train", "train one model on one fold's normal training beats")
    r = _split_arg(t.add_argument_group("run"))
    r.add_argument("--fold", type=int, default=0, help="which fold of the split to train on (default: %(default)s)")
    r.add_argument("--out", help="run folder (default: runs/PRESET-or-MODEL-SPLIT/foldK)")
    r.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint")
    r.add_argument("--max-steps", type=int, help="stop (and checkpoint) after this many steps")
    t.set_defaults(func=cmd_train)

    e = _recipe_parser(sub, "evaluate", "run the protocol: train and score each fold, write AUC/AP to results JSON")
    r = _split_arg(e.add_argument_group("run"))
    r.add_argument("--folds", type=int, nargs="*", help="only these folds (default: all)")
    r.add_argument("--name", help="result name: results/NAME-SPLIT.json (default: the model)")
    _results_arg(r)
    r.add_argument("--runs", default="runs", help="folder of the per-fold run folders and checkpoints "
                   "(default: %(default)s)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    e.set_defaults(func=cmd_evaluate)

    rp = sub.add_parser("report", help="write the results page from results/*.json")
    _results_arg(rp)
    rp.add_argument("--output", default="docs/results.md", help="the page to write (default: %(default)s)")
    rp.set_defaults(func=cmd_report)

    x = _recipe_parser(sub, "export", "train a model on all benchmark N beats and write it with its card")
    r = x.add_argument_group("export")
    r.add_argument("--output", required=True, help="model path without suffix (writes OUTPUT.pt, OUTPUT.json, "
                   "OUTPUT.onnx); inside resources/models only with --force")
    r.add_argument("--force", action="store_true", help="allow --output inside resources/models, replacing the "
                   "bundled model")
    _results_arg(r, "folder of the result JSON files the card quotes")
    r.add_argument("--version", default="2.0.0", help="the card's model version (default: %(default)s)")
    r.add_argument("--weights", choices=("auto", "generator", "ema"), default="auto",
                   help="ship the generator or its EMA teacher (auto: the lower held-out normal error)")
    r.add_argument("--result-name", help="the results/ rows the card quotes (default: the model name)")
    r.add_argument("--train-records", choices=("all", "ds1"), default="all",
                   help="whose N beats train it: all 44 records (the bundled model), or DS1's only, a lab model "
                        "whose trainer crossdb rows on DS2 are inter-patient (default: %(default)s)")
    x.set_defaults(func=cmd_export)

    c = sub.add_parser("card", help="refresh a model card's metrics from results/*.json")
    c.add_argument("card", help="the model card (.json) to update")
    _results_arg(c)
    c.set_defaults(func=cmd_card)
    o = sub.add_parser("onnx", help="export a model's generator to ONNX (for the packaged viewer) and list it in its card")
    o.add_argument("card", help="the model card (.json) whose weights to export")
    o.add_argument("--opset", type=int, default=17, help="ONNX opset (default: %(default)s, what ONNX Runtime "
                   "of the installers runs)")
    o.set_defaults(func=cmd_onnx)
    __import__("trainer.crossdb").crossdb.add_parser(sub)  # all of crossdb lives in trainer/crossdb.py
    __import__("trainer.robust_fit").robust_fit.add_parser(sub)  # and robust-fit in trainer/robust_fit.py
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
