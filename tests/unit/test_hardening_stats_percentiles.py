"""GET /stats percentiles: within 5 % of the exact percentile (nearest rank)
and never outside [smallest, largest] resolution time, from the figures the
live writes store (per bucket: count and sum)."""

import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from oversight.counters import intervention_stats, on_transition
from oversight.models import Intervention, Status

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PENDING = Intervention(
    id="0b0c56a4-1c56-4b39-9a53-6b7b0b2f1f10",
    uow_id="u",
    type="resume",
    status=Status.PENDING,
    priority="high",
    title="t",
    description="",
    context={},
    required_role="operator",
    created_by="c",
    created_at=T0,
    updated_at=T0,
    expires_at=T0 + timedelta(days=30),
    version=1,
)
MAX_MS = 2_592_000_000  # 30 days: the longest an intervention stays open
QUANTILES = (0.5, 0.95)


def stored_totals(resolutions):
    """The summed counter shards after one decision per resolution time:
    the live path's deltas, added by DynamoDB as exact decimals, read back
    as floats (as /stats reads them)."""
    exact: Counter = Counter()
    for seconds in resolutions:
        decided = PENDING.model_copy(
            update={"status": Status.APPROVED, "decided_by": "ana", "decided_at": T0, "resolution_seconds": seconds}
        )
        for name, amount in on_transition(PENDING, decided).totals.items():
            exact[name] += Decimal(repr(amount))
    return Counter({name: float(amount) for name, amount in exact.items()})


def exact_percentile(resolutions, q):
    """Nearest rank: the smallest value with at least q of them at or below it."""
    ordered = sorted(resolutions)
    return ordered[max(1, math.ceil(Fraction(str(q)) * len(ordered))) - 1]


def relative_error(reported, exact):
    return abs(reported - exact) / exact if exact else abs(reported)


def check(resolutions):
    stats = intervention_stats(stored_totals(resolutions))
    errors = []
    for q, reported in zip(QUANTILES, (stats.resolution_seconds_p50, stats.resolution_seconds_p95), strict=True):
        exact = exact_percentile(resolutions, q)
        assert min(resolutions) <= reported <= max(resolutions), (q, reported, exact)
        error = relative_error(reported, exact)
        assert error <= 0.05, (q, reported, exact)
        errors.append(error)
    return max(errors)


# Resolution times are whole milliseconds (lifecycle rounds them), 0 included.
milliseconds = st.one_of(
    st.integers(min_value=0, max_value=MAX_MS),
    st.integers(min_value=0, max_value=10_000),  # the common, short ones
    st.sampled_from([0, 1, 2, MAX_MS - 1, MAX_MS]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(milliseconds, min_size=1, max_size=200))
def test_percentiles_are_within_5_percent_of_the_exact_and_within_min_max(values_ms):
    check([ms / 1000 for ms in values_ms])


def test_sub_second_resolutions_give_sub_second_percentiles():
    # Every resolution under 0.5 s (average 0.278 s): the percentiles too.
    resolutions = [0.12, 0.2, 0.25, 0.27, 0.3, 0.31, 0.33, 0.35, 0.37, 0.28]
    stats = intervention_stats(stored_totals(resolutions))
    assert 0.12 <= stats.resolution_seconds_p50 <= stats.resolution_seconds_p95 <= 0.37
    check(resolutions)


def test_worst_relative_error_over_1000_random_samples(capsys):
    """Samples of 1 to 500 values, log-uniform from 1 ms to 30 days (and
    some zeros); the worst error is printed for the record."""
    rng = random.Random(20261123)
    worst = 0.0
    for _ in range(1_000):
        size = rng.randint(1, 500)
        spread = rng.uniform(0, 9.4)  # up to 10**9.4 ms = 30 days
        low = rng.uniform(0, 9.4 - spread)
        values = [
            0.0 if rng.random() < 0.02 else round(10 ** rng.uniform(low, low + spread)) / 1000 for _ in range(size)
        ]
        worst = max(worst, check(values))
    with capsys.disabled():
        print(f"\nworst relative error of p50/p95 over 1,000 random samples: {worst:.4%}")
    assert worst <= 0.05
