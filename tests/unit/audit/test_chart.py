"""The /audit chart's geometry: stacked by outcome, scaled to a round maximum."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from authsome.audit.query import Bucket
from authsome.daemon.web.chart import HEIGHT, build_chart

T0 = datetime(2026, 12, 3, tzinfo=UTC)


def test_bars_stack_outcomes_and_share_one_scale() -> None:
    buckets = [
        Bucket(T0, {"success": 30, "denied": 10}),
        Bucket(T0 + timedelta(hours=1), {}),
        Bucket(T0 + timedelta(hours=2), {"failure": 5, "success": 15}),
    ]
    chart = build_chart(buckets, "hour")
    assert chart.total == 60 and len(chart.bars) == 3
    first, empty, third = chart.bars
    assert [s.outcome for s in first.segments] == ["success", "denied"]  # fixed order
    assert empty.segments == [] and "no events" in empty.title
    assert third.title == "2026-12-03 02:00 UTC: 5 failure, 15 success"
    # 40 is the tallest total; the scale goes to 50, so heights are count/50 of the plot.
    plot = chart.baseline - 8
    assert first.segments[0].height == round(plot * 30 / 50, 2)
    assert first.segments[1].y + first.segments[1].height == first.segments[0].y
    assert [value for _, value in chart.y_ticks] == [0, 25, 50]
    assert all(0 <= y <= HEIGHT for y, _ in chart.y_ticks)


def test_axis_labels_are_whole_numbers() -> None:
    for peak, ticks in ((1, [0, 1]), (2, [0, 1, 2]), (5, [0, 5]), (7, [0, 5, 10]), (0, [0, 1])):
        chart = build_chart([Bucket(T0, {"success": peak} if peak else {})], "day")
        assert [value for _, value in chart.y_ticks] == ticks, peak


def test_day_labels_thin_out_on_long_ranges() -> None:
    buckets = [Bucket(T0 + timedelta(days=n), {"success": 1}) for n in range(90)]
    chart = build_chart(buckets, "day")
    assert 6 <= len(chart.x_labels) <= 8 and chart.x_labels[0][1] == "12-03"
