"""PNG figures shared by `report` and `offline` (matplotlib, rendered in memory)."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Protocol


class Interval(Protocol):
    """A value with its interval (`report.Cell`)."""

    @property
    def rate(self) -> float: ...

    @property
    def low(self) -> float: ...

    @property
    def high(self) -> float: ...


def grouped_bars(
    series: Mapping[str, Mapping[str, Interval]],
    groups: Sequence[str],
    *,
    ylabel: str,
    title: str,
) -> bytes:
    """Bars of each series (label -> group -> value in [0, 1]) per group, with error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = max(len(series), 1)
    figure, axes = plt.subplots(figsize=(2.0 + 0.55 * len(groups) * max(1.0, count / 2), 3.8))
    width = 0.8 / count
    for i, (label, values) in enumerate(series.items()):
        xs: list[float] = []
        ys: list[float] = []
        errors: list[list[float]] = [[], []]
        for j, group in enumerate(groups):
            cell = values.get(group)
            if cell is None or math.isnan(cell.rate):
                continue
            xs.append(j + (i - (count - 1) / 2) * width)
            ys.append(100 * cell.rate)
            # no interval (a published value): NaN, which draws no error bar
            errors[0].append(
                100 * max(cell.rate - cell.low, 0) if cell.low == cell.low else math.nan
            )
            errors[1].append(
                100 * max(cell.high - cell.rate, 0) if cell.high == cell.high else math.nan
            )
        axes.bar(xs, ys, width, yerr=errors, capsize=2, label=label)
    rotation = 45 if max((len(g) for g in groups), default=0) > 4 else 0
    axes.set_xticks(range(len(groups)), list(groups), rotation=rotation,
                    ha="right" if rotation else "center", fontsize=7)  # fmt: skip
    axes.set_ylabel(ylabel)
    axes.set_ylim(0, 105)
    axes.legend(
        fontsize=7,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14 - 0.08 * bool(rotation)),
        ncol=min(count, 3),
        frameon=False,
    )
    axes.set_title(title, fontsize=9)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()
