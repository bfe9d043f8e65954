"""Beat annotation symbols and the classes BeatGAN groups them into.

BeatGAN's reference code puts e and j in S (standard AAMI EC57 puts them in N). The benchmark keeps
BeatGAN's mapping so its figures compare with the paper; docs/dataset.md says so.
"""

from __future__ import annotations

import numpy as np

#: WFDB symbols that mark a beat (all others are rhythm, noise or comment annotations).
BEAT_SYMBOLS = frozenset("N L R B A a J S V r F e j n E / f Q ?".split())

#: BeatGAN's mapping from symbol to class.
BEATGAN_CLASSES: dict[str, str] = {
    **{s: "N" for s in "N L R".split()},
    **{s: "S" for s in "A a J S j e".split()},
    **{s: "V" for s in "V E".split()},
    "F": "F",
    **{s: "Q" for s in "/ f Q".split()},
}

#: The anomaly classes, in the order reports list them.
ANOMALY_CLASSES = ("S", "V", "F", "Q")
CLASSES = ("N",) + ANOMALY_CLASSES


def beat_mask(symbols: np.ndarray) -> np.ndarray:
    """True where a symbol marks a beat."""
    return np.isin(symbols, list(BEAT_SYMBOLS))


def classify(symbols: np.ndarray) -> np.ndarray:
    """Class letter per symbol ('' where BeatGAN's mapping has no class, as for B, r, n, ?)."""
    out = np.array([BEATGAN_CLASSES.get(s, "") for s in symbols], dtype="<U1")
    return out
