"""Which lead the model reads, and saying so when it is not the lead it was trained on.

The bundled model was trained on MIT-BIH's MLII. A Holter of another recorder often has none (CM5,
D3, V4, ...): it is then scored with the best available lead, the one most like II (an upright
R wave in the lateral leads first, then the other limb leads, the right chest leads last), and the
record says which lead it was, never silently.
"""

from __future__ import annotations

import re

from ecgviewer.core.record import choose_leads

#: Names that are the trained lead (MLII; II and D2 are the same limb lead).
TRAINED_LEAD = "MLII"
TRAINED_NAMES = ("MLII", "II", "ML2", "LEAD II", "D2", "DII")
#: Without the trained lead, the order of preference: most like II first.
FALLBACK_ORDER = ("ECG", "ECG1", "CM5", "V5", "ML5", "CC5", "V6", "V4", "V4-V5", "CM4", "I", "D1", "MLI",
                  "AVF", "III", "D3", "MLIII", "V3", "V2-V3", "CM2", "V2", "V1-V2", "V1", "MOD.V1")


def _norm(name: str) -> str:
    return re.sub(r"\s+", " ", name.strip().upper())


def model_leads(channel_names: list[str], n_leads: int = 1) -> tuple[list[int], str]:
    """Channel indices the model reads and a status line ('' when the first is the trained lead).

    With the trained lead present this is :func:`ecgviewer.core.record.choose_leads`; without it,
    the first lead is the best available by :data:`FALLBACK_ORDER` (else the first channel).
    """
    names = [_norm(n) for n in channel_names]
    chosen = choose_leads(channel_names, n_leads)
    if not chosen or names[chosen[0]] in TRAINED_NAMES:
        return chosen, ""
    first = next((names.index(p) for p in FALLBACK_ORDER if p in names), chosen[0])
    if first != chosen[0]:
        rest = [i for i in chosen if i != first] or [i for i in range(len(names)) if i != first]
        chosen = [first, *rest][:max(n_leads, 1)] if len(names) > 1 else [first]
    return chosen, (f"scored on lead {channel_names[first]}: the model was trained on {TRAINED_LEAD}, "
                    "which this record does not have")
