"""De-duplication and gap counting on the seq window."""

from __future__ import annotations

from central_hub.domain.streams import SeqTracker, Verdict


def test_duplicates_inside_the_window_are_detected() -> None:
    t = SeqTracker(window=8)
    assert [t.observe("d", "position", s).verdict for s in (1, 2, 2, 3, 1)] == [
        Verdict.NEW, Verdict.NEW, Verdict.DUPLICATE, Verdict.NEW, Verdict.DUPLICATE]
    assert t.duplicates == 2


def test_streams_are_separate_per_device_and_topic() -> None:
    t = SeqTracker()
    assert t.observe("a", "position", 5).verdict is Verdict.NEW
    assert t.observe("b", "position", 5).verdict is Verdict.NEW
    assert t.observe("a", "occupancy", 5).verdict is Verdict.NEW


def test_late_fill_is_new_and_not_a_gap() -> None:
    t = SeqTracker(window=8)
    t.observe("d", "p", 10)
    t.observe("d", "p", 12)
    assert t.observe("d", "p", 11).verdict is Verdict.NEW
    for s in range(13, 30):
        t.observe("d", "p", s)
    assert t.gaps == 0


def test_missing_seqs_count_as_gaps_once_they_leave_the_window() -> None:
    t = SeqTracker(window=4)
    t.observe("d", "p", 0)
    assert t.observe("d", "p", 3).gaps == 0  # 1 and 2 may still come
    assert t.observe("d", "p", 6).gaps == 2  # now they are out of the window
    assert t.observe("d", "p", 100).gaps == 92  # 4, 5 and 7..96; 97..99 may still come
    assert t.gaps_of("d", "p") == 94


def test_seqs_older_than_the_window_are_left_to_the_store() -> None:
    t = SeqTracker(window=4)
    t.observe("d", "p", 100)
    assert t.observe("d", "p", 50).verdict is Verdict.OLD


def test_number_of_streams_is_bounded() -> None:
    t = SeqTracker(max_streams=3)
    for i in range(10):
        t.observe(f"d{i}", "p", 1)
    assert len(t) == 3
    assert t.observe("d0", "p", 1).verdict is Verdict.NEW  # evicted, so unknown again
