"""Beat detail: one beat as the model saw it, its reconstruction, and where it differs below.

The lower plot is the heat map's display map (core/heatmap.py: the difference from the record's
usual beat, smoothed over a QRS width), the same values the signal view colours.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from ecgviewer.core.heatmap import display_map, dominant_template
from ecgviewer.ui.paper import format_time


def lead_title(lead: str) -> str:
    return f"{lead}, amplitude normalised (as the model reads it)"


class BeatDetail(pg.GraphicsLayoutWidget):
    """Per model lead: input (black) and reconstruction (blue) over the squared error (red)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.setMinimumHeight(150)  # the right column must fit a 768-pixel screen
        self.title = self.addLabel("No beat selected", row=0, col=0, color="#202020")
        self._plots: list[tuple[pg.PlotItem, pg.PlotItem]] = []
        self.beat: int | None = None
        self._template_of: tuple[int, int] | None = None
        self._template: np.ndarray | None = None

    def _ensure(self, n_leads: int) -> None:
        if len(self._plots) == n_leads:
            return
        for top, bottom in self._plots:
            self.removeItem(top)
            self.removeItem(bottom)
        self._plots = []
        for k in range(n_leads):
            top = self.addPlot(row=1 + 2 * k, col=0)
            bottom = self.addPlot(row=2 + 2 * k, col=0)
            bottom.setXLink(top)
            top.addLegend(offset=(5, 5), labelTextColor="#202020", brush=pg.mkBrush(255, 255, 255, 210))  # readable over the traces
            top.plot(pen=pg.mkPen("#101010", width=2), name="beat")
            top.plot(pen=pg.mkPen("#1060e0", width=2, style=pg.QtCore.Qt.PenStyle.DashLine), name="reconstruction")
            bottom.plot(pen=pg.mkPen("#d00000"), fillLevel=0, brush=pg.mkBrush(220, 0, 0, 90))
            bottom.setMaximumHeight(80)
            for p in (top, bottom):
                p.setMenuEnabled(False)
                p.hideButtons()
                p.setMouseEnabled(x=False, y=False)
                p.getAxis("left").setWidth(40)
            bottom.setLabel("left", "differs")
            self._plots.append((top, bottom))
        if self._plots:
            self._plots[-1][1].setLabel("bottom", "ms from R peak")

    def set_leads(self, leads: list[str]) -> None:
        """Empty plots titled with the leads the model reads: a new record never shows the last one's lead."""
        self.show_beat(None)
        self._ensure(len(leads))
        for (top, bottom), name in zip(self._plots, leads):
            top.setTitle(lead_title(name), color="#202020", size="9pt")
            top.setRange(xRange=(-400, 500), yRange=(-1, 1), padding=0.05)  # a beat's window, as when one is shown
            bottom.setYRange(0, 1, padding=0.05)

    def show_beat(self, index: int | None, beats=None, result=None) -> None:
        """Show beat ``index`` of ``beats`` with ``result``'s reconstruction and error; None clears."""
        self.beat = index
        if index is None or beats is None or result is None or index >= len(beats):
            self.title.setText("No beat selected")
            for top, bottom in self._plots:
                for item in top.listDataItems() + bottom.listDataItems():
                    item.setData([], [])
            return
        key = (id(beats), id(result))
        if self._template_of != key:  # once per scoring: the record's usual beat
            self._template_of, self._template = key, dominant_template(beats.x, result.score)
        x, recon = beats.x[index], result.recon[index]
        err = display_map(x[None], self._template)[0]
        self._ensure(x.shape[0])
        ticks = (np.arange(x.shape[1]) - 140) / 360.0 * 1000.0  # ms from the R peak
        label = beats.symbol[index] if len(beats.symbol) else ""
        self.title.setText(
            f"Beat {index + 1} at {format_time(float(beats.time[index]), 0.01)}<br>score "
            f"{float(result.score[index]):.4g}" + (f", reference label {label}" if label else ""))
        for k, (top, bottom) in enumerate(self._plots):
            beat_item, recon_item = top.listDataItems()
            top.enableAutoRange()  # set_leads fixed an empty plot's range
            beat_item.setData(ticks, x[k])
            recon_item.setData(ticks, recon[k])
            bottom.listDataItems()[0].setData(ticks, err[k])
            top.setTitle(lead_title(beats.leads[k]), color="#202020", size="9pt")
            bottom.setYRange(0, max(float(err.max()), 1e-6), padding=0.05)
