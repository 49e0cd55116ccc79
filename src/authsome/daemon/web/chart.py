"""The audit page's chart: stacked bars of events per hour or day, by outcome.

Only geometry is computed here; ``audit.html`` draws it as inline SVG with
presentation attributes (the page's CSP allows no inline styles or scripts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from authsome.audit.query import Bucket

WIDTH = 720
HEIGHT = 200
LEFT = 44  # room for the y-axis labels
BOTTOM = 22  # room for the x-axis labels
TOP = 8
#: Drawing order (bottom to top) and colours; the legend shows the same.
OUTCOME_COLOURS = (("success", "#1f7a44"), ("failure", "#b3261e"), ("denied", "#d97706"))


@dataclass(frozen=True)
class Segment:
    y: float
    height: float
    colour: str
    outcome: str
    count: int


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    title: str  # the tooltip: bucket and counts
    segments: list[Segment]


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    baseline: float
    bars: list[Bar]
    y_ticks: list[tuple[float, int]]  # (y, value)
    x_labels: list[tuple[float, str]]  # (x, label)
    total: int
    unit: str
    legend: tuple[tuple[str, str], ...] = OUTCOME_COLOURS


def _nice_max(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is at least ``value``."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if factor * step >= value:
                return factor * step
        step *= 10


def build_chart(buckets: Sequence[Bucket], unit: str) -> Chart:
    """Bars for ``buckets`` (oldest first), scaled to the largest total."""
    baseline = float(HEIGHT - BOTTOM)
    plot_height = baseline - TOP
    top = _nice_max(max((bucket.total for bucket in buckets), default=0) or 1)
    slot = (WIDTH - LEFT) / max(len(buckets), 1)
    width = max(slot * 0.8, 1.0)
    stamp = "%Y-%m-%d %H:00" if unit == "hour" else "%Y-%m-%d"
    bars: list[Bar] = []
    for index, bucket in enumerate(buckets):
        x = LEFT + index * slot + (slot - width) / 2
        y = baseline
        segments: list[Segment] = []
        for outcome, colour in OUTCOME_COLOURS:
            count = bucket.counts.get(outcome, 0)
            if not count:
                continue
            height = plot_height * count / top
            y -= height
            segments.append(Segment(round(y, 2), round(height, 2), colour, outcome, count))
        counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(bucket.counts.items()))
        title = f"{bucket.start.strftime(stamp)} UTC: {counts or 'no events'}"
        bars.append(Bar(round(x, 2), round(width, 2), title, segments))
    every = max(1, len(buckets) // 6)
    label_format = "%H:00" if unit == "hour" else "%m-%d"
    x_labels = [
        (round(LEFT + index * slot + slot / 2, 2), bucket.start.strftime(label_format))
        for index, bucket in enumerate(buckets)
        if index % every == 0
    ]
    values = sorted({0, top} | ({top // 2} if top % 2 == 0 else set()))
    y_ticks = [(round(baseline - plot_height * value / top, 2), value) for value in values]
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        baseline=baseline,
        bars=bars,
        y_ticks=y_ticks,
        x_labels=x_labels,
        total=sum(bucket.total for bucket in buckets),
        unit=unit,
    )
