"""Deterministic train/test splits of the benchmark set.

Intra-patient (BeatGAN): the N beats are shuffled with a fixed seed and cut into 5 folds; a fold's
test set is its N beats plus every S, V, F and Q beat, and training uses the other N beats only.
Inter-patient (de Chazal et al., 2004): train on DS1's N beats, test on all of DS2's beats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DS1 = tuple("101 106 108 109 112 114 115 116 118 119 122 124 201 203 205 207 208 209 215 220 223 230".split())
DS2 = tuple("100 103 105 111 113 117 121 123 200 202 210 212 213 214 219 221 222 228 231 232 233 234".split())
N_FOLDS = 5
SPLIT_SEED = 0  # fixed: every model is evaluated on the same folds
VAL_FRACTION = 0.05  # of the training N beats, held out for normal-only model selection


@dataclass(frozen=True)
class Split:
    """Indices into the dataset. ``val`` holds N beats only: selection never sees an anomaly."""

    name: str
    fold: int
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def _carve_val(train: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + 1000)
    perm = rng.permutation(train)
    n_val = max(1, int(round(len(train) * VAL_FRACTION)))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def intra_patient(cls: np.ndarray, n_folds: int = N_FOLDS, seed: int = SPLIT_SEED) -> list[Split]:
    """BeatGAN's 5-fold split over the N beats."""
    normal = np.flatnonzero(cls == "N")
    anomalies = np.flatnonzero(cls != "N")
    perm = np.random.default_rng(seed).permutation(normal)
    folds = np.array_split(perm, n_folds)
    out = []
    for k in range(n_folds):
        train = np.sort(np.concatenate([f for j, f in enumerate(folds) if j != k]))
        train, val = _carve_val(train, seed + k)
        test = np.sort(np.concatenate([folds[k], anomalies]))
        out.append(Split("intra", k, train, val, test))
    return out


def inter_patient(cls: np.ndarray, record: np.ndarray, seed: int = SPLIT_SEED) -> Split:
    """de Chazal's DS1 -> DS2 split: N beats of DS1 to train, every beat of DS2 to test."""
    in1 = np.isin(record, DS1)
    train, val = _carve_val(np.flatnonzero(in1 & (cls == "N")), seed)
    test = np.flatnonzero(np.isin(record, DS2))
    return Split("inter", 0, train, val, test)


def get_splits(name: str, cls: np.ndarray, record: np.ndarray) -> list[Split]:
    if name == "intra":
        return intra_patient(cls)
    if name == "inter":
        return [inter_patient(cls, record)]
    raise ValueError(f"unknown split {name!r} (intra or inter)")
