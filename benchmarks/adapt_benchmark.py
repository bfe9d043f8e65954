"""Self-adaptation's cost: plain scoring vs adapt + score, on a 30-minute and a 24-hour record.

``python -m benchmarks.adapt_benchmark [--hours 24] [--repeat 3]`` scores the bundled sample (MIT-BIH
119, 30 min) and a 24-hour record made by tiling it, each plainly (the default backend) and with
self-adaptation (:class:`ecgviewer.core.adapt.AdaptConfig` defaults), in the same run, and prints
the median wall time of each. The targets (issue 15): adapt + score within 10 s for 30 minutes and
60 s for 24 hours on 2 cores. Beat cutting is timed apart: it is the same with or without.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import numpy as np

from benchmarks.timing import median_time
from ecgviewer.core.adapt import AdaptConfig
from ecgviewer.core.record import Record, load_record
from ecgviewer.core.resources import sample_record_path
from ecgviewer.core.scorer import Scorer


def tiled(rec: Record, hours: float) -> Record:
    """``rec`` repeated end to end to ``hours`` long, its beat annotations shifted along."""
    k = max(1, int(np.ceil(hours * 3600 / rec.duration)))
    ann = rec.annotations
    tiled_ann = None
    if ann is not None:
        off = np.repeat(np.arange(k) * rec.n_samples, len(ann.sample))
        tiled_ann = dataclasses.replace(ann, sample=np.tile(ann.sample, k) + off, symbol=np.tile(ann.symbol, k),
                                        aux_note=tuple(ann.aux_note) * k if ann.aux_note else ())
    return dataclasses.replace(rec, name=f"{rec.name}x{k}", signal=np.tile(rec.signal, (k, 1)), annotations=tiled_ann)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.adapt_benchmark", description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0, help="length of the tiled long record (default 24)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each, median reported (default 3)")
    a = ap.parse_args(argv)
    plain = Scorer.load()
    adapting = Scorer.load(backend="torch")
    cfg = AdaptConfig(budget_s=None, gate=None)  # always adapt: the cost when it runs
    print(f"cpus {os.cpu_count()}, plain backend {plain.backend}, adaptation {cfg}")
    base = load_record(sample_record_path())
    for rec in (base, tiled(base, a.hours)):
        t0 = time.perf_counter()
        beats = plain.beats(rec)
        cut = time.perf_counter() - t0
        t_plain = median_time(lambda b=beats: plain.score(b), a.repeat)
        t_adapt = median_time(lambda b=beats: adapting.score(b, adapt=cfg), a.repeat)
        log = adapting.adapt_log
        print(f"{rec.name}: {rec.duration / 3600:.2f} h, {len(beats)} beats; cut {cut:.1f} s; "
              f"score {t_plain:.1f} s; adapt + score {t_adapt:.1f} s (adaptation {log.seconds:.1f} s, "
              f"{log.steps} steps on {len(log.pool)} beats)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
