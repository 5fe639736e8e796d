"""The overview's chart, drawn on the server."""

from __future__ import annotations

import re

from intercom_destination.console.chart import HEIGHT, svg

START = 1_795_906_800  # 2026-11-28T23:00:00Z


def points(markup: str, series: str) -> list[tuple[float, float]]:
    found = re.search(rf'<polyline points="([^"]+)" [^>]*><title>{series}</title>', markup)
    assert found, markup
    return [tuple(map(float, pair.split(","))) for pair in found.group(1).split()]  # type: ignore[misc]


def test_each_series_is_a_line_scaled_to_a_round_top() -> None:
    starts = [START + 60 * i for i in range(3)]
    markup = svg(starts, {"delivered": [0, 7, 3], "dead": [0, 0, 1]}, 60)

    delivered = points(markup, "delivered")
    assert len(delivered) == 3
    # 7 is drawn against a top of 10: the highest point, not at the top edge.
    heights = [y for _, y in delivered]
    assert heights[1] < heights[2] < heights[0]
    assert ">10</text>" in markup
    assert [x for x, _ in delivered] == sorted(x for x, _ in delivered)
    assert all(0 <= y <= HEIGHT for _, y in points(markup, "dead"))


def test_the_time_labels_name_the_steps() -> None:
    starts = [START + 3600 * i for i in range(25)]
    markup = svg(starts, {"accepted": [1] * 25}, 3600)
    assert ">28 Nov 23:00</text>" in markup
    assert ">29 Nov 23:00</text>" in markup


def test_an_empty_window_draws_flat_lines() -> None:
    markup = svg([START, START + 60], {"accepted": [0, 0]}, 60)
    assert ">1</text>" in markup
    assert len({y for _, y in points(markup, "accepted")}) == 1
