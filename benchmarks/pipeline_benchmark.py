"""Speed of the data pipeline: the whole benchmark set, and one 30-minute record as the viewer cuts it.

Measures, each with its target (2 cores):

(a) building the MIT-BIH benchmark set from the raw files, no cache (<= 60 s);
(b) ``load_record`` + ``extract_beats`` of one 30-minute annotated record (<= 0.3 s);
(c) the same with QRS detection instead of the annotations (<= 1.3 s);

with a baseline in the same run: plain ``wfdb.rdrecord`` of the same record, which every reader
pays. (b) to (d) are medians of ``--repeat`` runs after one warm-up (imports, filter taps); (a) is
the median of ``--build-repeat`` builds. Prints the hardware and the date, for docs/dataset.md.

Run from the repository root::

    python -m benchmarks.pipeline_benchmark [--data-dir ../shared/data/mitdb] [--record 119]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from ecgviewer.core.beats import extract_beats
from ecgviewer.core.record import load_record
from trainer.evaluate import cpu_model

REPO = Path(__file__).resolve().parents[1]

TARGETS = {"build": 60.0, "annotated": 0.3, "detected": 1.3}




def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def median_time(fn, repeat: int, warmup: int = 1) -> tuple[float, list[float]]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data" / "mitdb"))
    p.add_argument("--record", default="119", help="30-minute annotated record for (b) and (c)")
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--build-repeat", type=int, default=1)
    p.add_argument("--skip-build", action="store_true", help="only (b) and (c)")
    args = p.parse_args(argv)

    import numpy as np
    import scipy
    import wfdb

    data = Path(args.data_dir)
    rec_path = data / args.record
    print(f"date: {_dt.datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(f"hardware: {usable_cpus()} usable CPUs (nproc), {os.cpu_count()} online; CPU: {cpu_model()}")
    try:
        load = os.getloadavg()
        print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    except OSError:
        pass
    print(f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"wfdb {wfdb.__version__}")
    print(f"command: python -m benchmarks.pipeline_benchmark {' '.join(argv if argv is not None else sys.argv[1:])}")
    print()

    rec = load_record(rec_path)
    print(f"record {rec.name}: {rec.duration / 60:.1f} min, {rec.n_channels} leads at {rec.fs:g} Hz, "
          f"{len(extract_beats(rec))} annotated beats")
    base, _ = median_time(lambda: wfdb.rdrecord(str(rec_path)), args.repeat)
    base_ann, _ = median_time(lambda: (wfdb.rdrecord(str(rec_path)), wfdb.rdann(str(rec_path), "atr")), args.repeat)
    ann, ann_all = median_time(lambda: extract_beats(load_record(rec_path)), args.repeat)
    det, det_all = median_time(lambda: extract_beats(load_record(rec_path, annotator=None), detect=True), args.repeat)
    rows = [
        ("baseline: wfdb.rdrecord", base, None),
        ("baseline: wfdb.rdrecord + rdann", base_ann, None),
        ("(b) load_record + extract_beats (annotations)", ann, TARGETS["annotated"]),
        ("(c) load_record + extract_beats (detection)", det, TARGETS["detected"]),
    ]
    if not args.skip_build:
        from trainer.dataset import build_dataset

        builds = []
        for _ in range(args.build_repeat):
            t0 = time.perf_counter()
            ds = build_dataset(data)
            builds.append(time.perf_counter() - t0)
        print(f"dataset: {len(ds)} beats, " + ", ".join(f"{k} {v}" for k, v in ds.counts().items()))
        rows.append(("(a) build the benchmark set from raw files", statistics.median(builds), TARGETS["build"]))
    print()
    print(f"{'measure':50} {'median s':>9} {'target s':>9}  ok")
    for name, t, target in rows:
        ok = "" if target is None else ("yes" if t <= target else "NO")
        print(f"{name:50} {t:9.3f} {'' if target is None else f'{target:9.1f}':>9}  {ok}")
    print(f"(b) runs: {' '.join(f'{t:.3f}' for t in ann_all)}")
    print(f"(c) runs: {' '.join(f'{t:.3f}' for t in det_all)}")
    return 0 if all(t <= target for _, t, target in rows if target is not None) else 1


if __name__ == "__main__":
    sys.exit(main())
