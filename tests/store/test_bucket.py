"""The token bucket's arithmetic, which both stores apply to their bucket row."""

from __future__ import annotations

import pytest

from intercom_destination.store.bucket import Bucket, Grant, check, take

NOW = 1_800_000_000.0
RATE, BURST = 10.0, 5.0


def test_a_new_bucket_is_full_and_grants_up_to_what_was_asked() -> None:
    after, grant = take(None, 3, NOW, RATE, BURST)

    assert grant == Grant(3, None, 2.0)
    assert after == Bucket(2.0, NOW, None)


def test_a_bucket_grants_the_whole_tokens_it_holds_when_asked_for_more() -> None:
    after, grant = take(Bucket(2.7, NOW, None), 5, NOW, RATE, BURST)

    assert grant == Grant(2, None, pytest.approx(0.7))
    assert after.tokens == pytest.approx(0.7)


def test_less_than_a_token_is_refused_until_all_that_was_asked_for_refilled() -> None:
    after, grant = take(Bucket(0.5, NOW, None), 4, NOW, RATE, BURST)

    assert grant.tokens == 0
    assert grant.ask_again_at == pytest.approx(NOW + 0.35)
    assert after == Bucket(0.5, NOW, None)


def test_asking_again_when_told_grants_all_that_was_asked_for() -> None:
    after, refused = take(Bucket(0.0, NOW, None), 4, NOW, RATE, BURST)
    assert refused.ask_again_at is not None

    _, grant = take(after, 4, refused.ask_again_at, RATE, BURST)

    assert grant == Grant(4, None, pytest.approx(0.0, abs=1e-3))


def test_refills_never_go_past_the_burst() -> None:
    _, grant = take(Bucket(0.0, NOW, None), 5, NOW + 3600, RATE, BURST)

    assert grant.tokens == 5
    _, next_grant = take(Bucket(0.0, NOW + 3600, None), 5, NOW + 3600, RATE, BURST)
    assert next_grant.tokens == 0


def test_a_clock_behind_the_buckets_refills_nothing() -> None:
    after, grant = take(Bucket(1.0, NOW, None), 2, NOW - 10, RATE, BURST)

    assert grant == Grant(1, None, 0.0)
    assert after.updated_at == NOW


def test_a_pause_grants_nothing_until_it_ends() -> None:
    paused = Bucket(5.0, NOW, NOW + 30)

    assert take(paused, 1, NOW + 1, RATE, BURST)[1] == Grant(0, NOW + 30, 5.0)
    assert take(paused, 2, NOW + 30, RATE, BURST)[1] == Grant(2, None, 3.0)


@pytest.mark.parametrize("most", [0, 6])
def test_what_can_never_be_granted_in_full_is_refused(most: int) -> None:
    with pytest.raises(ValueError, match="never"):
        check(most, RATE, BURST)
