"""A user of tenant B sees none of tenant A's records and cannot act on
them (404, never 403); what each tenant's users do (comments, approvals of
a quorum, assignments) shows in that tenant's trails, lists and /stats
only, even when the same sub acts in both."""

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
