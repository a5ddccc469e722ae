"""Contract fuzzing: schemathesis generates requests for every operation in
docs/openapi.json (valid and invalid data, valid tokens) and sends them over
real HTTP to the local runtime. No answer may be a 5xx, and every answer must
match the document: a documented status, content type, headers and body
schema. A second, stateful run follows the document's links (create, then
read, claim, decide, complete; submit, then read, cancel) so records in
every state are exercised, not only 404s. Bounded for `make test`;
`make fuzz` (OVERSIGHT_FUZZ_EXAMPLES) runs longer."""

from __future__ import annotations

import json
import os

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance, unsupported_method

from local_runtime.openapi import DOCS_COPY, LINKS
from tests.e2e.runtime_process import bearer

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("OVERSIGHT_FUZZ_EXAMPLES") or 12)
BOUNDED = EXAMPLES <= 12  # the run inside `make test`: the same examples every time

schema = schemathesis.openapi.from_path(DOCS_COPY)

# Two checks assume what this API does not promise. API Gateway HTTP APIs
# answer an unrouted method with 404, not 405. And a schema-valid request may
# still be refused with a documented 422: opaque cursors this API did not
# issue, a tool name that is not registered, parameters of the named tool, a
# host outside the http_post allow-list, an Idempotency-Key reused with
# another body. Every answer is still checked: status, headers, body schema.
NOT_THIS_API = [unsupported_method, positive_data_acceptance]

# Records are raised by a requester and worked by an admin (who may do
# everything but decide a request of its own).
REQUESTER = bearer("fuzz-agent", "requester")
ADMIN = bearer("fuzz-pilot", "admin")
RAISED_BY_REQUESTER = {"createIntervention", "submitJob"}


def caller(case) -> dict[str, str]:
    return REQUESTER if case.operation.definition.raw.get("operationId") in RAISED_BY_REQUESTER else ADMIN


def fuzz_settings(**extra):
    extra.setdefault("max_examples", EXAMPLES)
    return settings(
        deadline=None,
        derandomize=BOUNDED,
        database=None if BOUNDED else settings.default.database,
        suppress_health_check=list(HealthCheck),
        **extra,
    )


@schema.parametrize()
@fuzz_settings(phases=[Phase.explicit, Phase.generate])
def test_every_operation_keeps_its_contract(case, runtime):
    case.call_and_validate(base_url=runtime.url, headers=caller(case), excluded_checks=NOT_THIS_API)


def test_linked_operations_keep_their_contract(runtime):
    seen: set[tuple[str, int]] = set()

    # Only the document's own links. Links schemathesis infers on its own (e.g. from a list's items to
    # GET /interventions/{id}) draw from what the shared runtime holds at that moment, which differs when
    # Hypothesis replays a sequence: it then stops with FlakyStrategyDefinition instead of testing.
    schema.config.phases.stateful.inference.algorithms.clear()

    class Workflows(schema.as_state_machine()):
        def after_call(self, response, case):
            seen.add((case.operation.definition.raw["operationId"], response.status_code))

        def get_call_kwargs(self, case):
            return {"base_url": runtime.url, "headers": caller(case)}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, excluded_checks=NOT_THIS_API, transport_kwargs=kwargs)

    # More runs than the per-operation test: a run reaches a linked operation
    # only after a generated create happens to be valid, and the derandomised
    # sequence moves with every change of the document.
    Workflows.run(settings=fuzz_settings(stateful_step_count=10, max_examples=EXAMPLES * 3))
    # The links took the fuzzer past creation into records it had made.
    linked = {target for _, *targets in LINKS.values() for target in targets}
    assert {operation for operation, status in seen if status < 300} & linked, sorted(seen)


def test_the_served_document_is_the_checked_in_one(runtime):
    served = requests.get(f"{runtime.url}/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.json() == json.loads(DOCS_COPY.read_text())
