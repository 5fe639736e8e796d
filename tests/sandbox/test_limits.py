"""Rate-limit windows and injected faults, on a clock the test controls."""

from __future__ import annotations

from intercom_destination.sandbox.clock import Clock
from intercom_destination.sandbox.faults import FaultInjector, Faults
from intercom_destination.sandbox.ratelimit import RateLimiter


def frozen(at: float) -> Clock:
    clock = Clock()
    clock.freeze(at)
    return clock


def test_a_window_allows_the_limit_then_refuses_until_the_next_window() -> None:
    clock = frozen(1_700_000_003.5)
    limiter = RateLimiter(clock, 2)
    first, second, third = limiter.take(), limiter.take(), limiter.take()
    assert (first.allowed, first.remaining, first.reset) == (True, 1, 1_700_000_010)
    assert (second.allowed, second.remaining) == (True, 0)
    assert (third.allowed, third.remaining, third.reset) == (False, 0, 1_700_000_010)
    assert third.headers() == {
        "X-RateLimit-Limit": "2",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "1700000010",
    }
    clock.advance(6.5)
    fresh = limiter.take()
    assert (fresh.allowed, fresh.remaining, fresh.reset) == (True, 1, 1_700_000_020)


def test_a_forced_window_refuses_everything_until_it_ends() -> None:
    clock = frozen(1_700_000_000)
    limiter = RateLimiter(clock, 100)
    limiter.refuse_until(1_700_000_012.5)
    refused = limiter.take()
    assert (refused.allowed, refused.remaining, refused.reset) == (False, 0, 1_700_000_013)
    clock.advance(12.5)
    assert limiter.take().allowed


def statuses(injector: FaultInjector, endpoint: str, count: int) -> list[int | None]:
    return [injector.error_status(endpoint) for _ in range(count)]


def test_the_same_seed_gives_the_same_errors() -> None:
    injector = FaultInjector()
    faults = Faults(error_rate=0.5, seed=7)
    injector.configure(faults)
    first = statuses(injector, "POST /events", 60)
    injector.configure(faults)
    assert statuses(injector, "POST /events", 60) == first
    assert {500, 503, None} == set(first)


def test_errors_stop_after_max_errors_and_apply_to_the_named_endpoints_only() -> None:
    injector = FaultInjector()
    injector.configure(
        Faults(error_rate=1.0, error_statuses=[503], max_errors=2, endpoints=["GET /me"])
    )
    assert statuses(injector, "POST /events", 3) == [None, None, None]
    assert statuses(injector, "GET /me", 3) == [503, 503, None]
    assert injector.latency("GET /me") == 0.0


def test_forced_conflicts_are_used_up() -> None:
    injector = FaultInjector()
    injector.configure(Faults(conflicts=2))
    assert [injector.take_conflict() for _ in range(3)] == [True, True, False]
