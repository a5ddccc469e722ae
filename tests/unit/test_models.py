import pytest
from pydantic import ValidationError

from oversight.models import CreateInterventionRequest, DecisionRequest, Priority

VALID = {"uow_id": "u", "type": "approval", "title": "t"}


def test_defaults():
    request = CreateInterventionRequest.model_validate(VALID)
    assert (request.priority, request.expires_in_seconds, request.required_role, request.description) == (
        Priority.NORMAL,
        3600,
        "operator",
        "",
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"description": "x" * 4001}, "description"),
        ({"expires_in_seconds": 59}, "expires_in_seconds"),
        ({"expires_in_seconds": 2_592_001}, "expires_in_seconds"),
        ({"type": "nope"}, "type"),
        ({"priority": "urgent"}, "priority"),
        ({"context": {"blob": "x" * 16_400}}, "context"),
        ({"surprise": 1}, "surprise"),
        ({"required_role": "has space"}, "required_role"),
    ],
)
def test_invalid_fields_are_named(change, field):
    with pytest.raises(ValidationError) as caught:
        CreateInterventionRequest.model_validate({**VALID, **change})
    assert any(error["loc"][0] == field for error in caught.value.errors())


def test_context_limit_is_16_kib_of_json():
    just_fits = {"b": "x" * (16 * 1024 - len('{"b":""}'))}
    CreateInterventionRequest.model_validate({**VALID, "context": just_fits})
    with pytest.raises(ValidationError):
        CreateInterventionRequest.model_validate({**VALID, "context": {"b": just_fits["b"] + "x"}})


def test_decision_reason_bounds_and_any_json_response():
    assert DecisionRequest.model_validate({"reason": "r", "response": [1, {"a": None}]}).response == [1, {"a": None}]
    for reason in ("", "x" * 2001):
        with pytest.raises(ValidationError):
            DecisionRequest.model_validate({"reason": reason})
