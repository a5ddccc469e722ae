"""`make load` in small: a fresh runtime, seeded records, concurrent clients
over real HTTP; every request of the mix answers as expected."""

from __future__ import annotations

from bench.load import ROUTES, format_report, run_load


def test_a_short_load_has_no_errors_and_covers_the_mix() -> None:
    report = run_load(clients=2, seconds=3, records=300)
    text = format_report(report)
    assert report.errors == 0, text
    assert report.total > 0, text
    missing = [route for route in ROUTES if not report.routes.get(route, None) or not report.routes[route].latencies_ms]
    assert not missing, f"routes never called: {missing}\n{text}"
    for route in ROUTES:
        assert route in text
    assert report.seeded is not None and report.seeded.items > 300
