"""A user of tenant B sees none of tenant A's records and cannot act on
them (404, never 403); what each tenant's users do (comments, approvals of
a quorum, assignments) shows in that tenant's trails, lists and /stats
only, even when the same sub acts in both. Webhook subscriptions and the
events they receive are the tenant's alone too: another tenant's admin
neither lists nor deletes one, and a subscriber gets its tenant's events
only (through the event pipeline, to a real receiver)."""

from tests.receiver import receiving, signature_valid
from tests.streams import Pipeline
from tests.support import user

ACME_AGENT = user("agent-a", "requester", tenant="acme")
ACME_ADMIN = user("admin-a", "admin", tenant="acme")
GLOBEX_ADMIN = user("admin-b", "admin", tenant="globex")


def test_other_tenant_sees_nothing(api):
    iv = api.create(ACME_AGENT, uow_id="shared-uow", priority="critical")
    api.post(f"/interventions/{iv['id']}/claim", ACME_ADMIN)

    assert api.get(f"/interventions/{iv['id']}", GLOBEX_ADMIN).status == 404
    assert api.get(f"/interventions/{iv['id']}/events", GLOBEX_ADMIN).status == 404
    for query in (
        "status=PENDING",
        "status=IN_PROGRESS",
        "uow_id=shared-uow&status=IN_PROGRESS",
        "status=IN_PROGRESS&assigned_to=admin-a",
    ):
        reply = api.get(f"/interventions?{query}", GLOBEX_ADMIN)
        assert reply.status == 200 and reply.body["items"] == [], query
    for action, body in (("release", None), ("approve", {"reason": "x"}), ("cancel", {"reason": "x"})):
        reply = api.post(f"/interventions/{iv['id']}/{action}", GLOBEX_ADMIN, body)
        assert reply.status == 404 and reply.body["code"] == "not_found"

    # ...while its own tenant still sees it, unchanged.
    mine = api.get(f"/interventions/{iv['id']}", ACME_ADMIN).body
    assert (mine["status"], mine["version"]) == ("IN_PROGRESS", 2)
    assert len(api.get(f"/interventions/{iv['id']}/events", ACME_ADMIN).body["items"]) == 2


# ------------------------------------------------ comments, assignment, quorums
GLOBEX_OPERATOR = user("pilot-ana", "operator", tenant="globex")  # the sub of an acme operator, in globex
GLOBEX_VIEWER = user("watcher-b", "viewer", tenant="globex")


def trail(api, iv, claims):
    return api.get(f"/interventions/{iv['id']}/events", claims).body["items"]


def test_another_tenant_cannot_comment_on_or_assign_a_record(api):
    iv = api.create(ACME_AGENT, required_approvals=2)
    before = api.get(f"/interventions/{iv['id']}", ACME_ADMIN).body

    for stranger in (GLOBEX_ADMIN, GLOBEX_OPERATOR, GLOBEX_VIEWER):
        assert api.get(f"/interventions/{iv['id']}", stranger).status == 404
        assert api.get(f"/interventions/{iv['id']}/events", stranger).status == 404
        for action, body in (("comments", {"text": "hello"}), ("assign", {"user": "pilot-ana"})):
            reply = api.post(f"/interventions/{iv['id']}/{action}", stranger, body)
            assert (reply.status, reply.body["code"]) == (404, "not_found"), (stranger["sub"], action)
    # A quorum approval from the other tenant is refused too, and counts for nothing.
    reply = api.post(f"/interventions/{iv['id']}/approve", GLOBEX_OPERATOR, {"reason": "x"})
    assert (reply.status, reply.body["code"]) == (404, "not_found")

    assert api.get(f"/interventions/{iv['id']}", ACME_ADMIN).body == before
    assert [e["action"] for e in trail(api, iv, ACME_ADMIN)] == ["create"]


def test_comments_and_approvals_stay_in_their_tenant(api):
    """The same sub acts in both tenants: what it does in one is invisible,
    and no precedent, in the other."""
    acme_operator = user("pilot-ana", "operator", tenant="acme")
    acme = api.create(ACME_AGENT, uow_id="shared-uow", required_approvals=2)
    globex = api.create(user("agent-b", "requester", tenant="globex"), uow_id="shared-uow", required_approvals=2)

    assert api.post(f"/interventions/{acme['id']}/comments", acme_operator, {"text": "acme only"}).status == 201
    assert api.post(f"/interventions/{acme['id']}/approve", acme_operator, {"reason": "acme ok"}).status == 200
    # Not a repeat approval: the acme one is another tenant's record.
    approved = api.post(f"/interventions/{globex['id']}/approve", GLOBEX_OPERATOR, {"reason": "globex ok"})
    assert approved.status == 200 and approved.body["approvals_needed"] == 1
    assert api.post(f"/interventions/{globex['id']}/comments", GLOBEX_OPERATOR, {"text": "globex only"}).status == 201
    assert api.post(f"/interventions/{acme['id']}/assign", ACME_ADMIN, {"user": "pilot-bo"}).status == 200

    acme_trail, globex_trail = trail(api, acme, ACME_ADMIN), trail(api, globex, GLOBEX_ADMIN)
    assert [(e["action"], e["reason"]) for e in acme_trail] == [
        ("create", None),
        ("comment", "acme only"),
        ("approve", "acme ok"),
        ("assign", "Assigned to pilot-bo"),
    ]
    assert [(e["action"], e["reason"]) for e in globex_trail] == [
        ("create", None),
        ("approve", "globex ok"),
        ("comment", "globex only"),
    ]
    mine = api.get(f"/interventions/{globex['id']}", GLOBEX_ADMIN).body
    assert [(a["user"], a["reason"]) for a in mine["approvals"]] == [("pilot-ana", "globex ok")]
    assert (mine["status"], mine["assigned_to"]) == ("PENDING", None)

    # Each list shows the tenant's own record where its status puts it (acme's was assigned: IN_PROGRESS), with
    # its own approval only, and never the other tenant's, whatever the filter.
    lists = {
        "status=PENDING": ([], [globex]),
        "status=IN_PROGRESS": ([acme], []),
        "uow_id=shared-uow&status=PENDING": ([], [globex]),
        "uow_id=shared-uow&status=IN_PROGRESS": ([acme], []),
        "status=IN_PROGRESS&assigned_to=pilot-bo": ([acme], []),
    }
    for query, (in_acme, in_globex) in lists.items():
        for tenant_admin, expected, reason in (
            (ACME_ADMIN, in_acme, "acme ok"),
            (GLOBEX_ADMIN, in_globex, "globex ok"),
        ):
            listed = api.get(f"/interventions?{query}", tenant_admin).body["items"]
            assert [iv["id"] for iv in listed] == [iv["id"] for iv in expected], (tenant_admin["custom:tenant"], query)
            assert all([a["reason"] for a in iv["approvals"]] == [reason] for iv in listed), query


def test_quorum_approvals_count_only_in_their_tenant_stats(api):
    acme = api.create(ACME_AGENT, required_approvals=3)
    for sub in ("pilot-ana", "pilot-bo", "pilot-cy"):
        reply = api.post(f"/interventions/{acme['id']}/approve", user(sub, "operator", tenant="acme"), {"reason": "ok"})
        assert reply.status == 200
    assert reply.body["status"] == "APPROVED"
    # Half a quorum in globex, by a sub that approved in acme too.
    globex = api.create(user("agent-b", "requester", tenant="globex"), required_approvals=2)
    assert api.post(f"/interventions/{globex['id']}/approve", GLOBEX_OPERATOR, {"reason": "ok"}).status == 200

    def responders(claims):
        return {r["user"]: r["count"] for r in api.get("/stats", claims).body["interventions"]["top_responders"]}

    assert responders(ACME_ADMIN) == {"pilot-ana": 1, "pilot-bo": 1, "pilot-cy": 1}
    assert responders(GLOBEX_VIEWER) == {"pilot-ana": 1}
    by_status = api.get("/stats", GLOBEX_VIEWER).body["interventions"]["by_status"]
    assert (by_status.get("APPROVED", 0), by_status.get("PENDING", 0)) == (0, 1)


# ------------------------------------------------ subscriptions and events
GLOBEX_AGENT = user("agent-b", "requester", tenant="globex")
EXPORT = {"tool": "export_interventions", "parameters": {}, "use_cache": False}


def subscribe(api, claims, url):
    reply = api.post("/webhooks", claims, {"url": url, "events": ["*"]})
    assert reply.status == 201, reply.body
    return reply.body


def make_changes(api, agent, admin):
    """An intervention created, claimed, approved, and a job submitted: the ids."""
    iv = api.create(agent, uow_id="shared-uow")
    assert api.post(f"/interventions/{iv['id']}/claim", admin).status == 200
    assert api.post(f"/interventions/{iv['id']}/approve", admin, {"reason": "ok"}).status == 200
    job = api.post("/jobs", agent, EXPORT)
    assert job.status == 202, job.body
    return {iv["id"], job.body["id"]}


def record_ids(events):
    return {(event.get("intervention") or event.get("job"))["id"] for event in events}


def test_each_subscriber_receives_its_own_tenants_events_only(api, sqs, monkeypatch):
    """Both tenants subscribe to every event type and change the same kinds
    of records: each receiver gets its tenant's events, all of them, signed
    with its own secret, and none of the other's."""
    with receiving() as acme_receiver, receiving() as globex_receiver:
        monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", f"{acme_receiver.netloc},{globex_receiver.netloc}")
        acme_hook = subscribe(api, ACME_ADMIN, acme_receiver.url)
        globex_hook = subscribe(api, GLOBEX_ADMIN, globex_receiver.url)
        acme_ids = make_changes(api, ACME_AGENT, ACME_ADMIN)
        globex_ids = make_changes(api, GLOBEX_AGENT, GLOBEX_ADMIN)
        Pipeline(sqs).run()

    for receiver, tenant, ids, hook, other in (
        (acme_receiver, "acme", acme_ids, acme_hook, globex_hook),
        (globex_receiver, "globex", globex_ids, globex_hook, acme_hook),
    ):
        events = receiver.events()
        assert {event["tenant"] for event in events} == {tenant}
        assert record_ids(events) == ids
        assert [e["action"] for e in events if "intervention" in e] == ["create", "claim", "approve"]
        assert {e["action"] for e in events if "job" in e} >= {"submit"}
        assert all(signature_valid(hook["secret"], d) for d in receiver.deliveries)
        assert not any(signature_valid(other["secret"], d) for d in receiver.deliveries)


def test_another_tenants_admin_neither_sees_nor_deletes_a_subscription(api, sqs, monkeypatch):
    with receiving() as receiver:
        monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", receiver.netloc)
        hook = subscribe(api, ACME_ADMIN, receiver.url)
        listed = api.get("/webhooks", ACME_ADMIN).body["items"]

        assert api.get("/webhooks", GLOBEX_ADMIN).body == {"items": [], "next_cursor": None}
        reply = api.request("DELETE", f"/webhooks/{hook['id']}", GLOBEX_ADMIN)
        assert (reply.status, reply.body["code"]) == (404, "not_found")
        # globex's own subscription, to the same URL, is globex's alone.
        globex_hook = subscribe(api, GLOBEX_ADMIN, receiver.url)
        assert [h["id"] for h in api.get("/webhooks", GLOBEX_ADMIN).body["items"]] == [globex_hook["id"]]
        assert api.request("DELETE", f"/webhooks/{globex_hook['id']}", GLOBEX_ADMIN).status == 204

        # acme's subscription is as it was, and still delivers.
        assert api.get("/webhooks", ACME_ADMIN).body["items"] == listed
        iv = api.create(ACME_AGENT)
        Pipeline(sqs).run()

    assert [(e["tenant"], e["intervention"]["id"]) for e in receiver.events()] == [("acme", iv["id"])]
    assert all(signature_valid(hook["secret"], d) for d in receiver.deliveries)
    assert api.get("/webhooks", GLOBEX_ADMIN).body["items"] == []
