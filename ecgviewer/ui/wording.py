"""Text a clinician reads: the score's scale, record start, skipped beats, the model card in words.

Kept apart from the widgets so every place that says it (info line, threshold box, About, report)
says it the same way, and tests can check the words without a window.
"""

from __future__ import annotations

import datetime as _dt

SKIP_REASONS = {
    "edge": "too close to the start or end of the record for a full beat window",
    "gap": "over a gap in the signal",
    "flat": "on a flat (disconnected) lead",
}


def start_text(start: _dt.datetime | _dt.time | None) -> str:
    """The recording's start as the header gives it, or '' when the header has none."""
    if isinstance(start, _dt.datetime):
        return start.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(start, _dt.time):
        return start.strftime("%H:%M:%S")
    return ""


def skipped_text(skipped: dict[str, int]) -> str:
    """'2 beats not scored: too close to ...' ('' when none was skipped)."""
    parts = [f"{n} {SKIP_REASONS.get(k, k)}" for k, n in skipped.items() if n]
    total = sum(n for n in skipped.values() if n)
    if not total:
        return ""
    return f"{total} beat{'s' if total != 1 else ''} not scored ({'; '.join(parts)})"


def score_kind(card: dict | None) -> str:
    """One line on what a score value means, from the model card's score kind."""
    kind = ((card or {}).get("score") or {}).get("kind", "mse")
    if kind == "mse+rhythm":
        return ("score = shape + rhythm, each in robust standard deviations above normal beats "
                "(0 = a typical normal beat)")
    return "score = mean squared reconstruction error of the beat's shape (0 = perfect reconstruction)"


def threshold_help(card: dict | None) -> str:
    """Tooltip of the threshold box: the scale and where the default came from."""
    thr = (card or {}).get("threshold") or {}
    text = score_kind(card) + "."
    if "value" in thr:
        spec = thr.get("specificity_target")
        how = (f", set for {100 * spec:.0f} % specificity on {thr['set_on']}" if spec and thr.get("set_on")
               else "")
        text += f" Model default {fmt(thr['value'])}{how}."
    return text


def fmt(v: float, digits: int = 3) -> str:
    """A number for people: 36.6, 0.00140, 1.52e-06 (``digits`` significant digits)."""
    return f"{float(v):.{digits}g}" if abs(float(v)) < 1e5 else f"{float(v):.{digits}e}"


def _pct(v) -> str:
    return f"{100.0 * float(v):.1f} %"


METRIC_WORDS = {
    "intra": "5-fold cross-validation within MIT-BIH (patients seen in training)",
    "inter": "inter-patient split (DS1 train / DS2 test, patients not seen in training)",
}


def card_lines(card: dict, backend: str | None = None) -> list[str]:
    """Markdown bullet lines describing the model card in words, numbers rounded."""
    lines = [f"- Model: {card.get('name', 'unnamed')}, version {card.get('version', '?')}"
             + (f", made {card['created']}" if card.get("created") else "")]
    if backend:
        lines.append(f"- Runs on: {'ONNX Runtime' if backend == 'onnx' else 'PyTorch'} (CPU)")
    data = card.get("training_data") or {}
    if data:
        recs = data.get("records") or []
        db = str(data.get("database", "")).split(" (")[0]
        lines.append(f"- Trained on: normal beats only of {len(recs)} records of the {db}" if recs
                     else f"- Trained on: {db}")
    lines.append(f"- What a score means: {score_kind(card)}")
    thr = card.get("threshold") or {}
    if "value" in thr:
        spec = thr.get("specificity_target")
        lines.append(f"- Default threshold: {fmt(thr['value'])}"
                     + (f" (flags 1 in {round(1 / (1 - spec))} normal beats: {100 * spec:.0f} % specificity"
                        f" on {thr.get('set_on', 'held-out normal beats')})" if spec else ""))
    for key, m in ((card.get("metrics") or {}).items()):
        if not isinstance(m, dict) or "mean_auc" not in m:
            continue
        lines.append(f"- Measured, {METRIC_WORDS.get(key, key)}:")
        lines.append(f"    - separates anomalous from normal beats with ROC AUC {m['mean_auc']:.3f}"
                     f" (1 = perfect, 0.5 = chance); average precision {m.get('mean_ap', float('nan')):.3f}")
        by = m.get("auc_by_class") or {}
        if by:
            lines.append("    - AUC by class: " + ", ".join(
                f"{c} {v['mean']:.3f}" for c, v in by.items() if isinstance(v, dict) and "mean" in v)
                + " (S supraventricular, V ventricular, F fusion, Q unclassifiable)")
        if "sensitivity_at_99_specificity_threshold" in m:
            lines.append(f"    - at the default threshold: sensitivity {_pct(m['sensitivity_at_99_specificity_threshold'])}"
                         + (f", specificity {_pct(m['test_specificity_at_that_threshold'])}"
                            if "test_specificity_at_that_threshold" in m else ""))
    return lines


def threshold_suffix(card: dict | None) -> str:
    """Unit shown after the threshold value: ' SD' for robust z-scores, '' for a raw error."""
    kind = ((card or {}).get("score") or {}).get("kind", "mse")
    return " SD above normal" if kind == "mse+rhythm" else " (squared error)"


def threshold_decimals(card: dict | None) -> int:
    """Decimals of the threshold box: 2 for z-scores (36.64), 6 for a raw squared error (0.000640)."""
    return 2 if threshold_suffix(card).startswith(" SD") else 6
