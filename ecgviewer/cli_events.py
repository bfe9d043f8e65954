"""``ecgviewer events`` and ``ecgviewer templates``: the Holter analysis from the command line.

Both print what the viewer's events and templates panels show: the same beats (the model's beat
cutting, as ``ecgviewer score``), the same :func:`ecgviewer.core.holter.analyse` and the same
payload functions. ``templates`` scores the beats with the model for each template's highest score;
``events`` does not need the scores and skips them. Both read (never write) the viewer's event
decisions and template relabels from ``<record>.events.json`` unless ``--no-review``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable

from ecgviewer.cli_records import finite_float

COMMANDS = ("events", "templates")


def _clock(t: float | None) -> str:
    if t is None:
        return "-"
    h, rem = divmod(float(t), 3600)
    m, s = divmod(rem, 60)
    return f"{int(h)}:{int(m):02d}:{s:05.2f}"


def _analysis(args: argparse.Namespace, score: bool):
    """Record, beats, the reviewed analysis and the event decisions (the saved review is only read)."""
    from ecgviewer.cli_records import load_cli_record
    from ecgviewer.core.event_review import EventReviewStore
    from ecgviewer.core.events import EventCriteria
    from ecgviewer.core.holter import analyse_reviewed
    from ecgviewer.core.scorer import Scorer

    scorer = Scorer.load(args.model)
    record = load_cli_record(args)
    for note in record.notes:  # what the loader assumed (an annotation file without beats...): never silent
        print(f"ecgviewer: note: {record.name}: {note}", file=sys.stderr)
    beats = scorer.beats(record, detect=args.detect)
    scores = scorer.score(beats).score if score else None
    over = {k: v for k, v in (("pause_s", args.pause), ("brady_bpm", args.brady), ("tachy_bpm", args.tachy))
            if v is not None}
    store = None if args.no_review else EventReviewStore.for_record(record)
    if store is not None and store.foreign is not None:
        print(f"ecgviewer: warning: {store.message}; the review is left out", file=sys.stderr)
    a = analyse_reviewed(beats, record.duration, scores, store, criteria=EventCriteria(**over))
    return record, beats, a, ({} if store is None else store.decided())


def _print(args: argparse.Namespace, payload: dict, rows: list[dict], fields: list[str], text: Callable[[], None]) -> None:
    if args.json:
        json.dump(payload, sys.stdout)
        sys.stdout.write("\n")
    elif args.csv:
        w = csv.DictWriter(sys.stdout, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if r.get(k) is None else r.get(k) for k in fields})
    else:
        text()


def cmd_events(args: argparse.Namespace) -> int:
    from ecgviewer.core.events import KIND_TITLES
    from ecgviewer.core.holter import events_payload

    record, _, a, decided = _analysis(args, score=False)
    payload = events_payload(a, decided)
    fields = ["kind", "start", "end", "duration", "beats", "rate_bpm", "start_sample", "review"]

    def text() -> None:
        print("kind\tstart\tduration s\tbeats\trate bpm\treview")
        for e in payload["events"]:
            print(f"{e['kind']}\t{_clock(e['start'])}\t{e['duration']:.2f}\t{e['beats']}\t"
                  f"{'' if e['rate_bpm'] is None else e['rate_bpm']}\t{e['review'] or ''}")
        hr = payload["heart_rate"]
        print(f"{record.name}: {len(payload['events'])} events; classes: {payload['class_source']}; heart rate "
              f"mean {hr['mean_bpm']}, slowest minute {hr['min_bpm']} at {_clock(hr['min_at'])}, "
              f"fastest {hr['max_bpm']} at {_clock(hr['max_at'])} bpm")
        for k, n in payload["counts"].items():
            if n:
                print(f"  {KIND_TITLES[k]}: {n}")
        print("hour\tbeats\tmean\tmin\tmax\tV\tS\tevents")
        for h in payload["hourly"]:
            ev = ", ".join(f"{k} {n}" for k, n in h["events"].items())
            print(f"{h['hour']}\t{h['beats']}\t{h['mean_bpm']}\t{h['min_bpm']}\t{h['max_bpm']}\t{h['V']}\t{h['S']}\t{ev}")

    _print(args, payload, payload["events"], fields, text)
    return 0


def cmd_templates(args: argparse.Namespace) -> int:
    from ecgviewer.core.holter import templates_payload

    record, beats, a, _ = _analysis(args, score=True)
    payload = templates_payload(a, beats)
    rows = [dict(t, first_sample=t["samples"][0]) for t in payload["templates"]]
    fields = ["id", "count", "label", "max_score", "first_sample"]

    def text() -> None:
        print("id\tcount\tlabel\tmax score\tfirst beat")
        for t in rows:
            print(f"{t['id']}\t{t['count']}\t{t['label'] or ''}\t{t['max_score']}\t{_clock(t['first_sample'] / record.fs)}")
        print(f"{record.name}: {len(beats)} beats in {len(rows)} templates (correlation >= {payload['threshold']}); "
              f"classes: {payload['class_source']}")

    _print(args, payload, rows, fields, text)
    return 0


def _common(p: argparse.ArgumentParser, record_args: Callable[[argparse.ArgumentParser], None]) -> None:
    record_args(p)
    p.add_argument("--no-review", action="store_true",
                   help="leave out the viewer's event decisions and template relabels (<record>.events.json)")


def add_parsers(sub, record_args: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add the two subcommands to ``ecgviewer``'s subparsers (``record_args``: the shared options)."""
    e = sub.add_parser("events", help="print a record's rhythm events (pauses, runs, AF-like episodes, ...)")
    _common(e, record_args)
    e.add_argument("--model", help="model card whose beat cutting to use (default: the bundled model)")
    e.add_argument("--pause", type=finite_float, help="pause: RR longer than this many seconds (default 2.0)")
    e.add_argument("--brady", type=finite_float, help="bradycardia below this many bpm (default 50)")
    e.add_argument("--tachy", type=finite_float, help="tachycardia above this many bpm (default 120)")
    e.set_defaults(func=cmd_events)
    t = sub.add_parser("templates", help="print a record's beats grouped by shape, with counts and scores")
    _common(t, record_args)
    t.add_argument("--model", help="model card (.json) or weights (.pt); default: the bundled SI-BeatGAN V2")
    t.set_defaults(func=cmd_templates, pause=None, brady=None, tachy=None)
