"""Concurrent decisions on one intervention: exactly one wins, no lost update."""

import threading
from concurrent.futures import ThreadPoolExecutor

from local_runtime.context import LocalLambdaContext
from local_runtime.handlers import load_handler
from local_runtime.routing import build_http_event
from tests.support import REQUESTER, VIEWER, user


def test_twenty_concurrent_decisions_one_wins(api):
    iv = api.create(REQUESTER)
    barrier = threading.Barrier(20)

    def decide(n: int) -> int:
        action = "approve" if n % 2 else "reject"
        url = f"/interventions/{iv['id']}/{action}"
        match = api.router.match("POST", url)
        # One handler instance per thread: 20 concurrent Lambda environments.
        handler = load_handler(match.function, instance=n + 1)
        event = build_http_event(
            match,
            "POST",
            url,
            headers={"content-type": "application/json"},
            body=f'{{"reason": "decision {n}"}}',
            claims=user(f"pilot-{n}", "operator"),
            base=api.sample_event(match.function.name),
        )
        barrier.wait()
        return handler(event, LocalLambdaContext("DecideInterventionFunction", 10))["statusCode"]

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(decide, range(20)))

    assert sorted(statuses) == [200] + [409] * 19
    final = api.get(f"/interventions/{iv['id']}", VIEWER).body
    assert final["status"] in ("APPROVED", "REJECTED") and final["version"] == 2
    events = api.get(f"/interventions/{iv['id']}/events", VIEWER).body["items"]
    decisions = [e for e in events if e["action"] in ("approve", "reject")]
    assert len(decisions) == 1 and decisions[0]["actor"] == final["decided_by"]
