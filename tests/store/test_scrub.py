"""Overwriting a person's events in the sorted part of a segment file."""

from __future__ import annotations

from pathlib import Path

from intercom_destination.store.sqlite.segments import SegmentWriter, read_groups, scrub
from tests.store.helpers import event


def test_scrubbed_groups_are_zeros_and_later_scrubs_still_find_the_groups_after_them(
    tmp_path: Path,
) -> None:
    writer = SegmentWriter(tmp_path, sync=False)
    writer.append([event("m1", "ada-1815"), event("m2", "bob-2d8a")], 1)
    writer.append([event("m3", "bob-2d8a")], 2)
    path, sorted_through = writer.append([event("m4", "cy-77e1")], 3)
    writer.append([event("m5", "cy-77e1")], 4)  # not sorted yet: left as it is
    writer.close()
    first_end = next(read_groups(path, 0)).end

    assert scrub(path, sorted_through, lambda e: e[1] == "ada-1815") == 1
    assert scrub(path, sorted_through, lambda e: e[1] == "cy-77e1") == 1

    content = path.read_bytes()
    assert b"ada-1815" not in content
    assert b"m2" not in content  # the rest of a scrubbed group goes with it
    assert content.count(b"cy-77e1") == 3  # the unsorted group: its lane, userId and body
    assert next(g.summary.lanes for g in read_groups(path, first_end)) == ["bob-2d8a"]
    assert [g.events[0][0] for g in read_groups(path, sorted_through)] == ["m5"]
