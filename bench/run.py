"""make bench: DynamoDB requests, items read and handler time per operation
at several table sizes (in-process against moto); then each function's
cold start against a bare boto3 handler, measured as Lambda starts one
(bench/cold_start.py), and the layer's size per package
(bench/layer_size.py). Counts are the figures to compare: moto's timings are not
DynamoDB's, so handler time is indicative only."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from local_runtime.handlers import ensure_layer_on_path  # noqa: E402
from local_runtime.template import Template, create_tables  # noqa: E402
from tests.support import ApiClient, Clock, RequestCounter, configure_environment, user  # noqa: E402

TEMPLATE = Template()
REQUESTER = user("bench-agent", "requester")
OPERATOR = user("bench-pilot", "operator")


def measure(counter: RequestCounter, prepare: Any, action: Any, repeat: int) -> tuple[float, float, float]:
    """(requests, items read, median ms) per call of `action`; `prepare`
    runs before each call, unmeasured."""
    timings, requests, items = [], 0, 0
    for _ in range(repeat):
        prepare()
        counter.reset()
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
        requests += sum(counter.calls.values())
        items += counter.items_read
    return requests / repeat, items / repeat, statistics.median(timings)


def nothing() -> None:
    pass


def operations(api: ApiClient, clock: Clock) -> dict[str, tuple[Any, int]]:
    from oversight.sweep import run_sweep

    made: list[str] = []

    def create() -> None:
        made.append(api.create(REQUESTER, priority="high")["id"])

    def approve() -> None:
        reply = api.post(f"/interventions/{made[-1]}/approve", OPERATOR, {"reason": "bench"})
        assert reply.status == 200, reply.body

    def make_100_due() -> None:
        for _ in range(100):
            api.create(REQUESTER, expires_in_seconds=60)
        clock.advance(minutes=2)

    def sweep() -> None:
        report = run_sweep(lambda: 600_000)
        assert report.expired == 100, report

    return {
        "create": (nothing, create, 20),
        "get": (create, lambda: api.get(f"/interventions/{made[-1]}", OPERATOR), 20),
        "approve": (create, approve, 20),
        "list pending page (50)": (nothing, lambda: api.get("/interventions?status=PENDING&limit=50", OPERATOR), 10),
        "stats": (nothing, lambda: api.get("/stats", OPERATOR), 20),
        "daily stats (30 d)": (nothing, lambda: api.get("/stats/daily?days=30", OPERATOR), 20),
        "sweep of 100 due items": (make_100_due, sweep, 1),
    }


def bench_sizes(sizes: list[int]) -> None:
    from moto import mock_aws

    from local_runtime.emulation import install_moto_patches

    install_moto_patches()
    mock = mock_aws()
    mock.start()
    from oversight import clock as clock_module
    from oversight.store import dynamodb_client
    from tests.seeding import seed_interventions

    client = dynamodb_client()
    create_tables(client, TEMPLATE)
    clock = Clock(datetime(2026, 11, 25, tzinfo=UTC))
    clock_module.now = clock.now
    api = ApiClient(TEMPLATE, ROOT / "events")
    counter = RequestCounter(client)
    seeded = 0
    print(f"{'records':>8}  {'operation':<26} {'requests':>8} {'items read':>10} {'median ms':>10}")
    for size in sizes:
        started = time.perf_counter()
        seed_interventions(client, "acme", size - seeded, seed=size)
        seeded = size
        print(f"# seeded {size:,} interventions in {time.perf_counter() - started:.1f}s", file=sys.stderr)
        ops = operations(api, clock)
        ops["create"][1]()  # warm the handlers (imports are measured separately below)
        for name, (prepare, action, repeat) in ops.items():
            requests, items, median = measure(counter, prepare, action, repeat)
            print(f"{size:>8,}  {name:<26} {requests:>8.1f} {items:>10.1f} {median:>10.1f}")
        clock.advance(minutes=5)
    mock.stop()


def main() -> None:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--skip-imports", action="store_true", help="leave out the cold starts and the layer's size")
    parser.add_argument("--runs", type=int, default=9, help="cold starts per function and per side (A, B)")
    args = parser.parse_args()
    configure_environment(TEMPLATE)
    ensure_layer_on_path()
    bench_sizes([int(s) for s in args.sizes.split(",")])
    if not args.skip_imports:
        from bench import cold_start, layer_size

        cold_start.main(["--runs", str(args.runs)])
        layer_size.main([])


if __name__ == "__main__":
    main()
