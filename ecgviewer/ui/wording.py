"""Text a clinician reads: the score's scale, record start, skipped beats, the model card in words.

Kept apart from the widgets so every place that says it (info line, threshold box, About, report)
says it the same way, and tests can check the words without a window.
"""

from __future__ import annotations

import datetime as _dt

from ecgviewer.core.model.card import ModelCard, RobustScore, Threshold
from ecgviewer.core.robust import RR_QUANTILE_MEDIAN

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


def score_kind(card: ModelCard | None) -> str:
    """One line on what a score value means: the robust score where the card has one (the scorer
    then uses it), else the card's raw score kind."""
    if card is not None and card.robust_score is not None:
        join = "the larger of the two" if card.robust_score.combine == "max" else "the two added"
        w = card.robust_score.window_ms
        around = ("" if w is None else
                  f" around the QRS ({w[0]:+.0f} to {w[1]:+.0f} ms of the R peak; the heat map shows every tick)")
        shape = "its shape" + around
        q = card.robust_score.rr_quantile
        rhythm = ("its rhythm" if q is None or q == RR_QUANTILE_MEDIAN else
                  "its rhythm (how early it comes against the longer cycles of the surrounding minute)")
        gate = card.robust_score.rhythm_gate
        held = ("" if gate is None else
                "; where the rhythm is irregular throughout, as in atrial fibrillation, the rhythm "
                + ("does not count" if gate.cap == 0 else f"counts at most {gate.cap:g}")
                + " (an early beat means nothing there)")
        like = card.robust_score.likeness
        if like is not None:
            shape = (f"its shape ({'the larger of' if like.join == 'max' else 'the sum of'} how well the network "
                     f"rebuilds it{around} and how unlike it is to the dominant beat of the record)")
        return (f"score = how unusual the beat is among normal beats, for {shape} and for {rhythm}, each "
                "record on its own scale: for each, 2 means as far out as 1 normal beat in 100 and 3 as 1 in "
                f"1000; the score of a beat is {join}{held}")
    if card is not None and card.score.kind == "mse+rhythm":
        return ("score = shape + rhythm, each in robust standard deviations above normal beats "
                "(0 = a typical normal beat)")
    return "score = mean squared reconstruction error of the beat's shape (0 = perfect reconstruction)"


def _specificity_words(thr: Threshold) -> str:
    return (f"set for {100 * thr.specificity_target:.0f} % specificity on {thr.set_on}"
            if thr.specificity_target and thr.set_on else "")


def default_threshold(card: ModelCard) -> tuple[float, str]:
    """The threshold the scorer applies by default, and where it came from, in words."""
    how = (_fitted_words(card.robust_score) if card.robust_score is not None
           else _specificity_words(card.threshold))
    return card.default_threshold, how


def _fitted_words(r: RobustScore) -> str:
    """'flags 1.5% of the 45,811 normal beats it was fitted on'; a card of schema /2 has no share
    field: its free-text ``fitted_on`` is shown as written."""
    if r.target is None:
        return r.fitted_on
    n = f"{r.n_normal:,} " if r.n_normal else ""
    return f"flags {r.target:.1%} of the {n}normal beats it was fitted on"


def threshold_help(card: ModelCard | None) -> str:
    """Tooltip of the threshold box: the scale and where the default came from."""
    text = score_kind(card) + "."
    if card is not None:
        value, how = default_threshold(card)
        text += f" Model default {fmt(value)}{', ' + how if how else ''}."
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


#: The test sets' folder names, in words for the About box.
DATABASE_WORDS = {"qtdb-x": "QT Database records from databases other than MIT-BIH (qtdb-x)"}


def card_lines(card: ModelCard, backend: str | None = None) -> list[str]:
    """Markdown bullet lines describing the model card in words, numbers rounded."""
    lines = [f"- Model: {card.name}, version {card.version}" + (f", made {card.created}" if card.created else "")]
    if backend:
        lines.append(f"- Runs on: {'ONNX Runtime' if backend == 'onnx' else 'PyTorch'} (CPU)")
    lines.append(f"- Recipe: {card.recipe.name} (id {card.recipe.id})")
    data = card.training_data
    if data is not None:
        db = data.database.split(" (")[0]
        lines.append(f"- Trained on: normal beats only of {len(data.records)} records of the {db}" if data.records
                     else f"- Trained on: {db}")
    lines.append(f"- What a score means: {score_kind(card)}")
    thr = card.threshold
    spec = thr.specificity_target
    if card.robust_score is not None:
        value, how = default_threshold(card)
        lines.append(f"- Default threshold: {fmt(value)} ({how})")
    else:
        lines.append(f"- Default threshold: {fmt(thr.value)}"
                     + (f" (flags 1 in {round(1 / (1 - spec))} normal beats: {_specificity_words(thr)})" if spec else ""))
    for m in card.metrics:
        if m.mean_auc is None:
            continue
        folds = f"{m.folds} fold{'s' if m.folds != 1 else ''}"
        lines.append(f"- Measured, {METRIC_WORDS.get(m.split, m.split)} ({folds}):")
        lines.append(f"    - separates anomalous from normal beats with ROC AUC {m.mean_auc:.3f}"
                     f" (1 = perfect, 0.5 = chance)"
                     + (f"; average precision {m.mean_ap:.3f}" if m.mean_ap is not None else ""))
        by = m.auc_by_class or {}
        if by:
            lines.append("    - AUC by class: " + ", ".join(
                f"{c} {v['mean']:.3f}" for c, v in by.items() if isinstance(v, dict) and "mean" in v)
                + " (S supraventricular, V ventricular, F fusion, Q unclassifiable)")
        if m.sensitivity_at_99_specificity_threshold is not None:
            at = ("at the threshold of the raw score (99 % of held-out normal beats below it)"
                  if card.robust_score is not None else "at the default threshold")
            lines.append(f"    - {at}: sensitivity {_pct(m.sensitivity_at_99_specificity_threshold)}"
                         + (f", specificity {_pct(m.test_specificity_at_that_threshold)}"
                            if m.test_specificity_at_that_threshold is not None else ""))
    if card.measured:
        lines.append("- Measured with these very weights on whole databases, at the default threshold:")
    for r in card.measured:
        marks = ("beat marks of the database" if r.beats == "reference"
                 else "beats found by the built-in QRS detector")
        lead = ", the second lead of each record alone" if r.second_lead else ""
        seen = (card.training_data is not None and r.data.startswith("MIT-BIH")
                and card.training_data.database.startswith("MIT-BIH"))
        over = "none" if r.records_over_10pct == 0 else str(r.records_over_10pct)
        v = r.sensitivity_by_class.get("V")
        name = DATABASE_WORDS.get(r.data, r.data)
        lines.append(f"    - {name} ({r.records} records, {marks}{lead}): ROC AUC {r.auc:.3f}; normal beats "
                     f"flagged {_pct(r.n_flagged)} (worst record {_pct(r.worst_share)}, {over} over 10 %)"
                     + (f"; ventricular beats flagged {_pct(v)}" if v is not None else "")
                     + ("; the normal beats of these records were in training" if seen else ""))
    return lines


def threshold_suffix(card: ModelCard | None) -> str:
    """What the threshold value is: the robust score (a sum of -log10 tail shares, not standard
    deviations: the tooltip says how to read it), the card's z-sum, or a raw squared error."""
    if card is not None and card.robust_score is not None:
        return " (robust score)"
    return " SD above normal" if card is not None and card.score.kind == "mse+rhythm" else " (squared error)"


def threshold_decimals(card: ModelCard | None) -> int:
    """Decimals of the threshold box, as the score track, the metrics and the report print it (four
    significant digits): 3 for the robust score (2.635), 2 for the z-sum (36.64), 6 for a raw
    squared error (0.000640). Fewer would show 2.64 for a threshold that flags a beat at 2.637."""
    suffix = threshold_suffix(card)
    return 6 if suffix == " (squared error)" else 3 if suffix == " (robust score)" else 2
