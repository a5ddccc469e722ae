"""A user of tenant B sees none of tenant A's records."""

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
