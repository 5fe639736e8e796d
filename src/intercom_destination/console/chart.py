"""The overview's chart: events by outcome over time, as an inline SVG drawn on the server.

Pure: numbers in, markup out. No script draws it, so it shows as soon as the page does, and
in a screenshot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from markupsafe import Markup, escape

WIDTH, HEIGHT = 960, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 26
#: Each series' colour; the style sheet's legend uses the same.
COLOURS = {
    "accepted": "#94a3b8",
    "delivered": "#15803d",
    "skipped": "#a16207",
    "waiting": "#7c3aed",
    "dead": "#b91c1c",
}


def svg(starts: Sequence[int], series: Mapping[str, Sequence[int]], step: int) -> Markup:
    """Lines of `series` (name → one count per start) over `starts` (Unix seconds, `step`
    apart), with the largest count and the first, middle and last times as labels."""
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _ceiling(max((max(values, default=0) for values in series.values()), default=0))
    last = max(len(starts) - 1, 1)

    def x(index: int) -> float:
        return LEFT + plot_width * index / last

    def y(count: int) -> float:
        return TOP + plot_height * (1 - count / top)

    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="events by outcome">',
        f'<line x1="{LEFT}" y1="{y(0)}" x2="{WIDTH - RIGHT}" y2="{y(0)}" stroke="#d9dde5"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{WIDTH - RIGHT}" y2="{TOP}" stroke="#eef0f4"/>',
        _text(LEFT - 6, TOP + 4, f"{top:,}", "end"),
        _text(LEFT - 6, y(0) + 4, "0", "end"),
    ]
    for index in sorted({0, len(starts) // 2, len(starts) - 1}):
        if 0 <= index < len(starts):
            anchor = "start" if index == 0 else "end" if index == len(starts) - 1 else "middle"
            parts.append(_text(x(index), HEIGHT - 8, _when(starts[index], step), anchor))
    for name, values in series.items():
        points = " ".join(f"{x(i):.1f},{y(count):.1f}" for i, count in enumerate(values))
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{COLOURS.get(name, "#1d2330")}" '
            f'stroke-width="2" stroke-linejoin="round"><title>{escape(name)}</title></polyline>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _ceiling(count: int) -> int:
    """The axis' top: 1, 2 or 5 times a power of ten, at least `count` (and at least 1)."""
    scale = 1
    while True:
        for factor in (1, 2, 5):
            if factor * scale >= count:
                return factor * scale
        scale *= 10


def _when(start: int, step: int) -> str:
    moment = datetime.fromtimestamp(start, UTC)
    return moment.strftime("%H:%M" if step < 3600 else "%d %b %H:%M")


def _text(x: float, y: float, label: str, anchor: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="11" '
        f'fill="#667085">{escape(label)}</text>'
    )
