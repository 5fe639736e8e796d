"""The rate budget's token bucket arithmetic, which every store applies to its one bucket row
while it holds that row locked."""

from __future__ import annotations

from typing import NamedTuple


class Bucket(NamedTuple):
    tokens: float
    updated_at: float
    paused_until: float | None


class Grant(NamedTuple):
    """What asking the bucket for tokens gave (see `Store.take_tokens`)."""

    #: Tokens taken: at least one, or none when refused.
    tokens: int
    #: When refused, when to ask again; None when tokens were taken.
    ask_again_at: float | None
    #: What the bucket holds after: less than a token, and the next caller waits.
    left: float


def check(most: int, rate: float, burst: float) -> None:
    """Refuse a request no bucket can ever grant in full."""
    if most < 1 or most > burst or rate <= 0:
        raise ValueError(f"{most} tokens can never be taken at rate {rate} with burst {burst}")


def take(
    bucket: Bucket | None, most: int, now: float, rate: float, burst: float
) -> tuple[Bucket, Grant]:
    """The bucket after asking for up to `most` tokens at `now`, and what that gave: every
    whole token it holds up to `most`, or, when it holds less than one, none and when `most`
    will have refilled (or a pause ends, if later). A bucket never used before is full."""
    tokens, updated_at, paused_until = bucket or Bucket(burst, now, None)
    # Another process's clock may be a little ahead: time never runs backwards for the bucket.
    tokens = min(burst, tokens + max(0.0, now - updated_at) * rate)
    updated_at = max(updated_at, now)
    pause_ends = paused_until if paused_until is not None and paused_until > now else None
    # A caller that waited until the time it was told must not be refused by float rounding.
    granted = 0 if pause_ends is not None else min(most, int(tokens + 1e-9))
    tokens = max(0.0, tokens - granted)
    after = Bucket(tokens, updated_at, paused_until)
    if granted:
        return after, Grant(granted, None, tokens)
    # A microsecond more than exact: Unix times near 2e9 are floats only 2.4e-7 s apart, so
    # the exact time could refill a hair too little and refuse the caller again, forever.
    # The caller waits for all it asked for, not one token: several calls waiting in one
    # process are then served by one round trip to the store.
    refilled = now + max(0.0, most - tokens) / rate + 1e-6
    return after, Grant(0, refilled if pause_ends is None else max(refilled, pause_ends), tokens)
