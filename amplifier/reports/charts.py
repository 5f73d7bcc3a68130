"""Charts of the HTML report as plain geometry, drawn as inline SVG by its template.

    chart = bar_chart("Cakupan per wilayah", [Item("Bali", 57.1, "57.1%", "4 of 7")],
                      axis="cakupan (coverage), %", maximum=100)
    chart = column_chart("Sebaran jeda", items, x_axis="jeda", y_axis="konten turunan")
    for bar in chart.bars:
        print(bar.label, bar.x, bar.y, bar.width, bar.height)

``bar_chart`` lays out horizontal bars (one row per item, labels on the left), for many
items with long names such as regions; ``column_chart`` lays out vertical columns over
an x axis of classes, for a histogram. A bar's length is proportional to its value: the
axis starts at 0 and ends at ``maximum``, or at a round number above the largest value.
Coordinates are SVG user units (pixels at 100 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["Bar", "Chart", "Item", "Tick", "bar_chart", "column_chart", "nice_ticks"]


@dataclass(frozen=True)
class Item:
    """What one bar stands for: its label, its value, the value as shown, and a tooltip."""

    label: str
    value: float | None  # None: no value (drawn as an empty bar, shown as ``text``)
    text: str
    tip: str = ""


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str
    tip: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Tick:
    value: float
    text: str
    position: float  # x on a bar chart, y on a column chart


@dataclass
class Chart:
    kind: str  # "bars" (horizontal) or "columns" (vertical)
    title: str
    description: str
    x_axis: str
    y_axis: str
    width: float
    height: float
    left: float  # the plot area
    top: float
    plot_width: float
    plot_height: float
    bars: list[Bar] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)

    @property
    def right(self) -> float:
        return self.left + self.plot_width

    @property
    def bottom(self) -> float:
        return self.top + self.plot_height


def nice_ticks(largest: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to just above ``largest``: steps of 1, 2 or 5 × 10ⁿ."""
    if largest <= 0:
        return [0.0, 1.0]
    raw = largest / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    if step < 1:
        step = 1.0  # counts: no fractional ticks
    steps = math.ceil(largest / step)
    return [i * step for i in range(steps + 1)]


def _number(value: float) -> str:
    return f"{value:g}"


LABEL_WIDTH = 200  # the left column of a bar chart
ROW_HEIGHT = 22
BAR_HEIGHT = 14
VALUE_WIDTH = 70  # room for the number after the longest bar


def _scale(items: list[Item], maximum: float | None) -> tuple[list[float], list[float]]:
    """The items' values (None as 0) and the axis ticks, from 0 to the top of the axis."""
    values = [i.value or 0.0 for i in items]
    if maximum is None:
        return values, nice_ticks(max(values, default=0.0))
    return values, [maximum * i / 4 for i in range(5)]


def _bar(item: Item, value: float, x: float, y: float, width: float, height: float) -> Bar:
    return Bar(
        item.label, value, item.text, item.tip, *(round(v, 2) for v in (x, y, width, height))
    )


def bar_chart(
    title: str,
    items: list[Item],
    *,
    axis: str,
    maximum: float | None = None,
    plot_width: float = 440,
    description: str = "",
    unit: str = "",
) -> Chart:
    """Horizontal bars, one per item, in the given order."""
    values, ticks = _scale(items, maximum)
    top, plot_height = 8.0, max(len(items), 1) * ROW_HEIGHT
    width = LABEL_WIDTH + plot_width + VALUE_WIDTH
    chart = Chart("bars", title, description, axis, "", width, top + plot_height + 44,
                  LABEL_WIDTH, top, plot_width, plot_height)  # fmt: skip
    per_unit = plot_width / ticks[-1]
    chart.bars = [
        _bar(
            item,
            value,
            LABEL_WIDTH,
            top + n * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2,
            value * per_unit,
            BAR_HEIGHT,
        )
        for n, (item, value) in enumerate(zip(items, values, strict=True))
    ]
    chart.ticks = [Tick(t, _number(t) + unit, round(LABEL_WIDTH + t * per_unit, 2)) for t in ticks]
    return chart


def column_chart(
    title: str,
    items: list[Item],
    *,
    x_axis: str,
    y_axis: str,
    column_width: float = 76,
    plot_height: float = 200,
    description: str = "",
) -> Chart:
    """Vertical columns side by side, one per item (a class of a histogram), in order."""
    values, ticks = _scale(items, None)
    left, top, plot_width = 56.0, 20.0, max(len(items), 1) * column_width
    chart = Chart("columns", title, description, x_axis, y_axis, left + plot_width + 16,
                  top + plot_height + 56, left, top, plot_width, plot_height)  # fmt: skip
    per_unit, gap, bottom = plot_height / ticks[-1], column_width * 0.12, top + plot_height
    chart.bars = [
        _bar(
            item,
            value,
            left + n * column_width + gap,
            bottom - value * per_unit,
            column_width - 2 * gap,
            value * per_unit,
        )
        for n, (item, value) in enumerate(zip(items, values, strict=True))
    ]
    chart.ticks = [Tick(t, _number(t), round(bottom - t * per_unit, 2)) for t in ticks]
    return chart
