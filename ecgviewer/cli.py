"""Command line: ``ecgviewer [RECORD]`` opens the viewer; ``beats`` and ``score`` print beats.

Bad input ends with a one-line message on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

from ecgviewer import __version__, cli_events
from ecgviewer.cli_records import finite_float, load_cli_record, record_name, record_paths
from ecgviewer.core.errors import ModelError, RecordError

EXIT_INPUT = 2


def _num(v: float | None) -> float | None:
    """A JSON-safe number: NaN (no neighbour beat) becomes null."""
    return None if v is None or math.isnan(float(v)) else round(float(v), 4)


def _beats_payload(record, beats) -> dict:
    return {
        "record": record.name,
        "fs": record.fs,
        "leads": beats.leads,
        "source": beats.source,
        "lead_note": beats.lead_note or None,
        "notes": list(record.notes),  # what the loader assumed or fell back to (an uncalibrated lead...)
        "beats": [
            {"sample": int(s), "time": round(float(s) / record.fs, 4), "symbol": sym or None, "class": c or None,
             "rr_pre": _num(a), "rr_post": _num(b), "centre": int(m)}
            for s, sym, c, a, b, m in zip(beats.sample, beats.symbol, beats.cls, beats.rr_pre, beats.rr_post, beats.centre)
        ],
    }


def _summary(record, beats) -> dict:
    from collections import Counter

    counts = Counter(c or "unknown" for c in beats.cls)
    out = {"beats": len(beats), "by_class": dict(sorted(counts.items())), "skipped": dict(beats.skipped)}
    return _with_notes(out, record)


def _with_notes(summary: dict, record) -> dict:
    """The summary with the record's notes, when it has any (as ``lead_note``: only when there is one)."""
    if record.notes:
        summary["notes"] = list(record.notes)
    return summary


BEAT_FIELDS = ["sample", "time", "symbol", "class", "rr_pre", "rr_post", "centre"]
#: The columns of ``score --csv`` over several records: the record, then each beat's.
STUDY_FIELDS = ["record", *BEAT_FIELDS, "score", "raw_score", "flagged"]


def _write_csv(rows: list[dict], out) -> None:
    # A record without beats still gets its header line, so the output always parses.
    w = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else BEAT_FIELDS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if v is None else v) for k, v in r.items()})


def cmd_beats(args: argparse.Namespace) -> int:
    record = load_cli_record(args)
    from ecgviewer.core.beats import BeatParams, extract_beats

    beats = extract_beats(record, BeatParams(n_leads=args.leads), detect=args.detect)
    payload = _beats_payload(record, beats)
    payload["summary"] = _summary(record, beats)
    _emit(args, payload, f"{record.name}: {len(beats)} beats ({beats.source}), fs {record.fs:g} Hz, "
                         f"leads {', '.join(beats.leads)}{_notes_text(payload)}")
    return 0


def _notes_text(payload: dict) -> str:
    """The record's notes after its headline, as the lead note is: a fallback is never silent."""
    return "".join(f" ({n})" for n in payload["notes"])


def _score_payload(scorer, record, beats, result, threshold: float) -> dict:
    from ecgviewer.core.scorer import flag_summary

    payload = _beats_payload(record, beats)
    raw = result.raw if result.raw is not None else result.score
    for b, s, r in zip(payload["beats"], result.score, raw):
        b["score"] = float(f"{float(s):.7g}")  # significant digits: MSE scores are ~1e-3
        b["raw_score"] = float(f"{float(r):.7g}")  # the model's own score, before the record's scale
        b["flagged"] = bool(s >= threshold)
    payload["threshold"] = threshold
    payload["raw_threshold"] = scorer.raw_threshold
    payload["model"] = {"name": scorer.model.card.name, "version": scorer.model.card.version,
                        "path": str(scorer.model.path), "backend": scorer.backend}
    payload["summary"] = _with_notes(flag_summary(beats, result, threshold, record), record)
    log = scorer.adapt_log
    if log is not None:
        payload["adaptation"] = {"adapted": log.steps > 0, "beats": int(len(log.pool)), "steps": log.steps,
                                 "stopped": log.stopped,
                                 "pool_error_ratio": None if log.pool_error is None or scorer.reference_mse is None
                                 else round(log.pool_error / scorer.reference_mse, 2)}
        if log.steps:
            print(f"{record.name}: {log.summary()}", file=sys.stderr)
    return payload


def _headline(payload: dict) -> str:
    s, threshold = payload["summary"], payload["threshold"]
    extra = ""
    if s.get("sensitivity") is not None:
        extra = f", sensitivity {s['sensitivity']:.3f}, specificity {s['specificity']:.3f}"
    if s.get("lead_note"):
        extra += f" ({s['lead_note']})"
    return (f"{payload['record']}: {s['beats']} beats, {s['flagged']} flagged at threshold {threshold:.4g}{extra}"
            f"{_notes_text(payload)}")


def cmd_score(args: argparse.Namespace) -> int:
    """One record: its beats, as ``beats`` prints them, with scores. Several (or a folder): each in
    turn, one that fails said and marked, the others still scored, exit 2 at the end if any failed."""
    from ecgviewer.core.scorer import Scorer

    if args.summary and args.csv:
        return _refuse("--summary prints one JSON line per record and --csv one row per beat: give one of them")
    paths = record_paths(args.record)  # of several, each checked to exist before any is scored
    many = len(args.record) > 1 or Path(args.record[0]).is_dir()
    scorer = Scorer.load(args.model)
    adapt = _adapt_config(args)  # once for all records: its message, too, is said once
    threshold = scorer.threshold if args.threshold is None else args.threshold
    if not many and not args.summary:
        payload = _score_record(args, scorer, paths[0], adapt, threshold)
        _emit(args, payload, _headline(payload))
        return 0
    out = _StudyOutput(args, threshold)
    failed = []
    for i, path in enumerate(paths, 1):
        try:
            payload = _score_record(args, scorer, path, adapt, threshold)
        except RecordError as e:
            if not many:
                raise  # one record with --summary: its error, as without
            print(f"ecgviewer: error: {i}/{len(paths)} {record_name(path)}: {e}", file=sys.stderr, flush=True)
            failed.append(record_name(path))
            out.failed(record_name(path), str(e))
            continue
        print(f"ecgviewer: {i}/{len(paths)} {payload['record']}", file=sys.stderr, flush=True)
        out.scored(payload)
    out.close()
    if failed:
        shown = ", ".join(failed[:10]) + (f" and {len(failed) - 10} more" if len(failed) > 10 else "")
        print(f"ecgviewer: error: {len(failed)} of {len(paths)} records could not be scored: {shown}",
              file=sys.stderr)
        return EXIT_INPUT
    return 0


def _score_record(args: argparse.Namespace, scorer, path, adapt, threshold: float) -> dict:
    """One record's score payload; a RecordError when it cannot be read or scored."""
    record = load_cli_record(args, path)
    beats = scorer.beats(record, detect=args.detect)
    return _score_payload(scorer, record, beats, scorer.score(beats, adapt=adapt), threshold)


class _StudyOutput:
    """What ``score`` prints for several records, as each is scored (``--json``: one list at the end):
    a summary line, a headline or CSV rows per record; a failed record is a row marked failed."""

    def __init__(self, args: argparse.Namespace, threshold: float) -> None:
        self.args, self.threshold, self.payloads = args, threshold, []
        self.csv = csv.DictWriter(sys.stdout, fieldnames=STUDY_FIELDS, lineterminator="\n") if args.csv else None
        if self.csv is not None:
            self.csv.writeheader()  # one table for the study, its header even when no record scores

    def scored(self, payload: dict) -> None:
        if self.args.summary:
            self._line({"record": payload["record"], "threshold": self.threshold, **payload["summary"]})
        elif self.args.json:
            self.payloads.append(payload)
        elif self.csv is not None:
            for b in payload["beats"]:
                self.csv.writerow({"record": payload["record"], **{k: "" if v is None else v for k, v in b.items()}})
        else:
            print(_headline(payload))
        sys.stdout.flush()

    def failed(self, name: str, error: str) -> None:
        """A record that could not be scored: marked in --summary and --json (CSV and text: stderr says it)."""
        if self.args.summary:
            self._line({"record": name, "threshold": self.threshold, "failed": True, "error": error})
        elif self.args.json:
            self.payloads.append({"record": name, "failed": True, "error": error})

    def close(self) -> None:
        if self.args.json and not self.args.summary:
            json.dump(self.payloads, sys.stdout)
            sys.stdout.write("\n")

    @staticmethod
    def _line(obj: dict) -> None:
        json.dump(obj, sys.stdout)
        sys.stdout.write("\n")


def _refuse(message: str) -> int:
    print(f"ecgviewer: error: {message}", file=sys.stderr)
    return EXIT_INPUT


def _adapt_config(args: argparse.Namespace):
    """The self-adaptation asked for (``--adapt``; off by default: on today's scoring it does not yet
    pay overall, docs/method.md), or None. Gated, so a record the model already knows scores as
    without it; without PyTorch one line on stderr says it scored without."""
    from ecgviewer.core import adapt

    if not args.adapt:
        return None
    if not adapt.available():
        print("ecgviewer: self-adaptation needs PyTorch (pip install 'ecgviewer[trainer]'); scored without it",
              file=sys.stderr)
        return None
    return adapt.AdaptConfig(seed=args.adapt_seed)


def _emit(args: argparse.Namespace, payload: dict, headline: str) -> None:
    if args.json:
        json.dump(payload, sys.stdout)
        sys.stdout.write("\n")
    elif args.csv:
        _write_csv(payload["beats"], sys.stdout)
    else:
        keys = [k for k in ("time", "sample", "symbol", "class", "rr_pre", "rr_post", "score", "flagged")
                if payload["beats"] and k in payload["beats"][0]]
        print("\t".join(keys))
        for b in payload["beats"]:
            print("\t".join("" if b[k] is None else str(b[k]) for k in keys))
        print(headline)
        print("summary: " + json.dumps(payload["summary"]))


def _record_args(p: argparse.ArgumentParser, many: bool = False) -> None:
    if many:
        p.add_argument("record", nargs="+", help="record files (WFDB .hea/.dat or the name without extension, EDF/EDF+, "
                       "BDF, ISHNE Holter .ecg) or folders of them; "
                       "several: one headline per record, progress on stderr, --json prints a list, --csv "
                       "one table with a record column; a record that fails is said and the rest scored, "
                       "exit 2 at the end")
    else:
        p.add_argument("record", help="record file: WFDB (.hea/.dat, or the name without extension), EDF/EDF+ "
                                      "(.edf), BDF (.bdf) or ISHNE Holter (.ecg)")
    p.add_argument("--detect", action="store_true", help="ignore reference annotations; detect QRS complexes")
    p.add_argument("--annotator", help="WFDB annotation file extension to take beats from; refused when the file is "
                                       "missing or holds no beats (default: the file's EDF+ beats or <record>.atr "
                                       "when it holds beats, else the QRS detector, with a note)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print one JSON object")
    fmt.add_argument("--csv", action="store_true", help="print CSV, one row per beat")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ecgviewer", description="ECG viewer with anomalous-beat flags.")
    p.add_argument("--version", action="version", version=f"ecgviewer {__version__}")
    sub = p.add_subparsers(dest="command")
    b = sub.add_parser("beats", help="print a record's beats")
    _record_args(b)
    b.add_argument("--leads", type=int, choices=(1, 2), default=1, help="leads per beat window (default 1: MLII)")
    b.set_defaults(func=cmd_beats)
    s = sub.add_parser("score", help="score the beats of records (or of every record in a folder) with the model")
    _record_args(s, many=True)
    s.add_argument("--summary", action="store_true",
                   help="one JSON line per record (its summary) instead of its beats; a record that fails: "
                        "{record, threshold, failed: true, error}")
    s.add_argument("--model", help="model card (.json) or weights (.pt); default: the bundled SI-BeatGAN V2")
    s.add_argument("--threshold", type=finite_float, help="alert threshold (default: the model card's)")
    s.add_argument("--adapt", action=argparse.BooleanOptionalAction, default=False,
                   help="fine-tune the generator on this record's own beats before scoring, when they reconstruct "
                        "far worse than the training data's (needs PyTorch; default off; docs/method.md, "
                        "'Self-adaptation')")
    s.add_argument("--adapt-seed", type=int, default=0, help="seed of the self-adaptation (same seed, same scores)")
    s.set_defaults(func=cmd_score)
    cli_events.add_parsers(sub, _record_args)
    return p


def gui_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ecgviewer", description="Open the ECG viewer (subcommands: beats, score, events, templates).")
    p.add_argument("--version", action="version", version=f"ecgviewer {__version__}")
    p.add_argument("record", nargs="?", help="record to open: WFDB, EDF/EDF+, BDF or ISHNE (default: the bundled sample)")
    p.add_argument("--screenshot", metavar="PNG", help="open, wait for scoring, save a grab of the window and exit")
    p.add_argument("--self-test", action="store_true", help="score the bundled sample without a window and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in ("beats", "score", *cli_events.COMMANDS):
            args = build_parser().parse_args(argv)
            return args.func(args)
        args = gui_parser().parse_args(argv)
        if args.self_test:
            from ecgviewer.selftest import run_self_test

            return run_self_test(screenshot=args.screenshot)
        from ecgviewer.ui.app import run_gui

        return run_gui(args.record, screenshot=args.screenshot)
    except (RecordError, ModelError) as e:
        print(f"ecgviewer: error: {e}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
