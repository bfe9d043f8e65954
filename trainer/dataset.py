"""The MIT-BIH benchmark set, built as BeatGAN built it, and cached.

44 records (MIT-BIH without the paced 102, 104, 107, 217); beats cut by the core's
:func:`~ecgviewer.core.beats.extract_beats` with two leads (MLII first); BeatGAN's class mapping;
an N beat is kept only when the QRS detector finds an R peak within 10 samples of its annotation
(as the reference code did). ``x_other`` holds each beat's second lead (V1, V2, V4 or V5) cut as
the product cuts a one-lead record of that lead: its own polarity, its own fiducial, so that a
model trained on it has seen what a recorder without MLII gives. The cache is keyed by a hash of the parameters, the detector version
and the bytes of every input file, so a change to any of them rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgviewer.core.atomic import atomic_write
from ecgviewer.core.beats import BeatParams, extract_beats
from ecgviewer.core.classes import CLASSES
from ecgviewer.core.record import load_record
from ecgviewer.core.scoring import rhythm_features

ALL_RECORDS = (
    "100 101 102 103 104 105 106 107 108 109 111 112 113 114 115 116 117 118 119 121 122 123 124 "
    "200 201 202 203 205 207 208 209 210 212 213 214 215 217 219 220 221 222 223 228 230 231 232 233 234"
).split()
PACED = ("102", "104", "107", "217")
BENCHMARK_RECORDS = tuple(r for r in ALL_RECORDS if r not in PACED)
RPEAK_TOLERANCE = 10  # samples at 360 Hz, as the reference code
CACHE_FORMAT = 2  # 2: x_other
#: Windows at the marks, as the default recipe trains (``TrainConfig.align``); ``align="peak"`` cuts them
#: on the core's fiducial.
DEFAULT_PARAMS = BeatParams(n_leads=2, align="none")


@dataclass
class BeatDataset:
    """All benchmark beats: ``x`` (n, 2, 320) float32 with MLII first, and per-beat labels."""

    x: np.ndarray
    cls: np.ndarray  # <U1 in N S V F Q
    record: np.ndarray  # <U3
    sample: np.ndarray  # int64
    rr_pre: np.ndarray  # float32 s
    rr_post: np.ndarray  # float32 s
    rr_local: np.ndarray  # float32 s: mean of the 8 RR intervals before the beat (rhythm context)
    info: dict
    x_other: np.ndarray | None = None  # (n, 1, 320) the second lead cut alone (module docstring)

    def __len__(self) -> int:
        return int(self.cls.shape[0])

    def counts(self) -> dict[str, int]:
        return {c: int((self.cls == c).sum()) for c in CLASSES}

    def rhythm(self, idx: np.ndarray) -> np.ndarray:
        """The rhythm-context features (``core.scoring.rhythm_features``) of the beats ``idx``."""
        return rhythm_features(self.rr_pre[idx], self.rr_post[idx], self.rr_local[idx])

    def leads(self, n_leads: int) -> np.ndarray:
        """Beats with the first ``n_leads`` leads (1: MLII alone, as the reference run)."""
        return self.x[:, :n_leads]

    def trainer_inputs(self, cfg, train: np.ndarray, val: np.ndarray) -> dict:
        """The Trainer's data arguments for recipe ``cfg`` (a ``TrainConfig``) training on beats
        ``train`` and holding out ``val`` (the evaluation, the export and ``train`` alike)."""
        x = self.leads(cfg.n_leads)
        return {"x_train": x[train], "x_val": x[val], "groups": self.record[train],
                "x_other": self.other_lead()[train] if cfg.other_lead else None}

    def other_lead(self) -> np.ndarray:
        """Each beat's second lead as a one-lead recorder gives it (the other-lead augmentation)."""
        if self.x_other is None:
            from trainer.config import TrainError

            raise TrainError("this beat set has no second-lead windows: rebuild it (python -m trainer dataset --rebuild)")
        return self.x_other


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def input_files(data_dir: Path, records: tuple[str, ...] = BENCHMARK_RECORDS) -> list[Path]:
    files = [data_dir / f"{r}.{ext}" for r in records for ext in ("hea", "dat", "atr")]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{data_dir}: MIT-BIH files missing ({', '.join(missing[:4])}{'...' if len(missing) > 4 else ''}); "
            "pass the folder that holds them, or --download"
        )
    return files


def cache_key(data_dir: Path, params: BeatParams, records: tuple[str, ...] = BENCHMARK_RECORDS) -> str:
    from ecgviewer.core.fiducial import FIDUCIAL_VERSION
    from ecgviewer.core.qrs import DETECTOR_VERSION

    h = hashlib.sha256()
    # params.as_dict() names the window rule (align); the fiducial's version covers its constants
    h.update(json.dumps({"format": CACHE_FORMAT, "params": params.as_dict(), "records": list(records),
                         "detector": DETECTOR_VERSION, "tolerance": RPEAK_TOLERANCE,
                         "fiducial": FIDUCIAL_VERSION if params.align != "none" else None}, sort_keys=True).encode())
    for f in input_files(data_dir, records):
        h.update(f.name.encode())
        h.update(_sha256(f).encode())
    return h.hexdigest()[:16]


def default_cache_dir() -> Path:
    if os.environ.get("ECGVIEWER_CACHE_DIR"):
        return Path(os.environ["ECGVIEWER_CACHE_DIR"]) / "datasets"
    import platformdirs

    return Path(platformdirs.user_cache_dir("ecgviewer")) / "datasets"


def nearest_distance(sample: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Distance in samples from each of ``sample`` to the nearest of the sorted ``peaks``."""
    if len(peaks) == 0:
        return np.full(len(sample), np.iinfo(np.int64).max, dtype=np.int64)
    j = np.clip(np.searchsorted(peaks, sample), 1, len(peaks) - 1) if len(peaks) > 1 else np.zeros(len(sample), int)
    left = np.abs(peaks[np.maximum(j - 1, 0)] - sample)
    right = np.abs(peaks[j] - sample)
    return np.minimum(left, right)


def _record_beats(args: tuple[str, str, BeatParams]) -> dict:
    """Beats of one record (runs in a worker process)."""
    from ecgviewer.core.qrs import detect_qrs

    data_dir, name, params = args
    rec = load_record(Path(data_dir) / name)
    beats = extract_beats(rec, params)
    detected = detect_qrs(rec.signal, rec.fs)
    near = nearest_distance(beats.sample, detected)
    has_class = beats.cls != ""
    keep = has_class & ((beats.cls != "N") | (near <= RPEAK_TOLERANCE))
    x_other, other_missing = _second_lead(rec, beats.sample[keep], beats.x[keep], params)
    return {
        "x": beats.x[keep], "x_other": x_other, "other_missing": other_missing, "cls": beats.cls[keep], "sample": beats.sample[keep],
        "rr_pre": beats.rr_pre[keep], "rr_post": beats.rr_post[keep], "rr_local": beats.rr_local[keep],
        "dropped_n_rpeak": int(((beats.cls == "N") & (near > RPEAK_TOLERANCE)).sum()),
        "dropped_unclassed": int((~has_class).sum()), "skipped": beats.skipped, "leads": beats.leads,
    }


def _second_lead(rec, sample: np.ndarray, x: np.ndarray, params: BeatParams) -> tuple[np.ndarray, int]:
    """The beats at ``sample`` on the record's other lead, cut from that lead alone. A beat the
    one-lead cut drops (its window crosses the record's end after its own alignment) keeps the
    two-lead set's window of that lead; the count of those is returned."""
    from dataclasses import replace

    from ecgviewer.core.errors import RecordError

    assert params.n_leads == 2, "the second lead's fallback is the two-lead window"
    try:
        alone = extract_beats(rec.only_channel(rec.second_channel()), replace(params, n_leads=1))
    except RecordError:  # a flat or unscorable second lead: every beat keeps the two-lead window
        return x[:, 1:2].astype(np.float32), len(sample)
    j = np.clip(np.searchsorted(alone.sample, sample), 0, max(len(alone.sample) - 1, 0))
    found = (alone.sample[j] == sample) if len(alone.sample) else np.zeros(len(sample), bool)
    out = np.where(found[:, None, None], alone.x[j], x[:, 1:2]) if len(sample) else np.zeros((0, 1, x.shape[-1]), np.float32)
    return out.astype(np.float32), int((~found).sum())


def build_dataset(data_dir: Path, params: BeatParams = DEFAULT_PARAMS, workers: int | None = None,
                  records: tuple[str, ...] = BENCHMARK_RECORDS) -> BeatDataset:
    """Build the benchmark set from raw files (no cache)."""
    t0 = time.perf_counter()
    input_files(data_dir, records)
    jobs = [(str(data_dir), r, params) for r in records]
    workers = workers or min(os.cpu_count() or 1, 4)
    if workers > 1:
        with ProcessPoolExecutor(workers) as ex:
            parts = list(ex.map(_record_beats, jobs))
    else:
        parts = [_record_beats(j) for j in jobs]
    info = {
        "records": list(records), "params": params.as_dict(), "rpeak_tolerance": RPEAK_TOLERANCE,
        "dropped_n_rpeak": sum(p["dropped_n_rpeak"] for p in parts),
        "dropped_unclassed": sum(p["dropped_unclassed"] for p in parts),
        "other_lead_fallback": sum(p["other_missing"] for p in parts),
        "skipped": {r: p["skipped"] for r, p in zip(records, parts) if p["skipped"]},
        "leads": {r: p["leads"] for r, p in zip(records, parts)},
        "build_s": None,
    }
    ds = BeatDataset(
        x=np.concatenate([p["x"] for p in parts]),
        cls=np.concatenate([p["cls"] for p in parts]),
        record=np.concatenate([np.full(len(p["cls"]), r, dtype="<U3") for r, p in zip(records, parts)]),
        sample=np.concatenate([p["sample"] for p in parts]),
        rr_pre=np.concatenate([p["rr_pre"] for p in parts]),
        rr_post=np.concatenate([p["rr_post"] for p in parts]),
        rr_local=np.concatenate([p["rr_local"] for p in parts]),
        info=info,
        x_other=np.concatenate([p["x_other"] for p in parts]),
    )
    info["build_s"] = round(time.perf_counter() - t0, 2)
    return ds


def save_dataset(ds: BeatDataset, path: Path) -> None:
    """Write the cache atomically (a killed build never leaves a half file under the final name).

    The temporary name is unique per writer: two processes building the same cache at once (two
    training runs started together) each write their own file and the last rename wins.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as f:
        np.savez_compressed(f, x=ds.x, cls=ds.cls, record=ds.record, sample=ds.sample, rr_pre=ds.rr_pre,
                            rr_post=ds.rr_post, rr_local=ds.rr_local, info=np.array(json.dumps(ds.info)),
                            **({"x_other": ds.x_other} if ds.x_other is not None else {}))


def load_cached(path: Path) -> BeatDataset:
    with np.load(path, allow_pickle=False) as z:
        return BeatDataset(x=z["x"], cls=z["cls"], record=z["record"], sample=z["sample"], rr_pre=z["rr_pre"],
                           rr_post=z["rr_post"], rr_local=z["rr_local"], info=json.loads(str(z["info"])),
                          x_other=z["x_other"] if "x_other" in z.files else None)


def get_dataset(data_dir: Path, cache_dir: Path | None = None, params: BeatParams = DEFAULT_PARAMS,
                rebuild: bool = False) -> tuple[BeatDataset, Path, bool]:
    """The benchmark set from the cache, building it first when needed. Returns (set, path, from_cache).
    The default windows are at the marks, as the default recipe (``TrainConfig.align``) trains on."""
    data_dir = Path(data_dir)
    key = cache_key(data_dir, params)
    path = (cache_dir or default_cache_dir()) / f"mitdb-{key}.npz"
    if path.is_file() and not rebuild:
        ds, cached = load_cached(path), True
    else:
        ds, cached = build_dataset(data_dir, params), False
        save_dataset(ds, path)
    ds.info["cache_key"] = key  # provenance: results name the exact set they were measured on
    return ds, path, cached


def download_mitdb(dest: Path) -> Path:
    """Fetch MIT-BIH from PhysioNet with wfdb (the only network use, and only on request)."""
    import wfdb

    dest.mkdir(parents=True, exist_ok=True)
    wfdb.dl_database("mitdb", dl_dir=str(dest), records=list(ALL_RECORDS), annotators=["atr"])
    return dest
