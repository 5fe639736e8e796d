"""The rate budget's token bucket arithmetic, which every store applies to its one bucket row
while it holds that row locked."""

from __future__ import annotations

from typing import NamedTuple


class Bucket(NamedTuple):
    tokens: float
    updated_at: float
    paused_until: float | None


def check(n: int, rate: float, burst: float) -> None:
    """Refuse a request no bucket can ever grant."""
    if n > burst or rate <= 0:
        raise ValueError(f"{n} tokens can never be taken at rate {rate} with burst {burst}")


def take(
    bucket: Bucket | None, n: int, now: float, rate: float, burst: float
) -> tuple[Bucket, float | None]:
    """The bucket after asking for `n` tokens at `now`, and None if they were granted, else
    when to ask again (see `Store.take_tokens`). A bucket never used before is full."""
    tokens, updated_at, paused_until = bucket or Bucket(burst, now, None)
    # Another process's clock may be a little ahead: time never runs backwards for the bucket.
    tokens = min(burst, tokens + max(0.0, now - updated_at) * rate)
    updated_at = max(updated_at, now)
    pause_ends = paused_until if paused_until is not None and paused_until > now else None
    # A caller that waited until the time it was told must not be refused by float rounding.
    granted = pause_ends is None and tokens >= n - 1e-9
    if granted:
        tokens -= n
    after = Bucket(tokens, updated_at, paused_until)
    if granted:
        return after, None
    # A microsecond more than exact: Unix times near 2e9 are floats only 2.4e-7 s apart, so
    # the exact time could refill a hair too little and refuse the caller again, forever.
    refilled = now + max(0.0, n - tokens) / rate + 1e-6
    return after, refilled if pause_ends is None else max(refilled, pause_ends)
