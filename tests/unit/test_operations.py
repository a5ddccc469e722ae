"""oversight.contract.OPERATIONS, the documented side of every route: one
entry per route template.yaml gives the API functions, no entry left over,
and one operation id each."""

from oversight.contract import OPERATIONS
from tests.conftest import TEMPLATE


def test_every_api_route_of_the_template_has_one_operation_and_no_other_is_listed():
    # The console's function serves files, not the JSON API (docs/console.md).
    routed = {route.route_key for spec in TEMPLATE.functions() if spec.name != "console" for route in spec.routes}
    assert set(OPERATIONS) == routed


def test_operation_ids_are_unique_and_every_operation_documents_a_success_and_the_server_error():
    ids = [operation.operation_id for operation in OPERATIONS.values()]
    assert len(ids) == len(set(ids))
    for route_key, operation in OPERATIONS.items():
        statuses = set(operation.responses)
        assert min(statuses) < 300 and 500 in statuses, route_key
