import base64
import json

import pytest

from oversight.errors import ValidationFailed
from oversight.store.cursor import decode_cursor, encode_cursor

POSITION = {"pk": "T#acme#INT#1", "sk": "#META", "gsi1pk": "T#acme#INT#S#PENDING", "gsi1sk": "2#x"}
FILTERS = {"status": "PENDING"}
ARGS = dict(expected={"gsi1pk": "T#acme#INT#S#PENDING"}, required=tuple(POSITION), pk_prefix="T#acme#INT#")


def test_round_trip():
    assert decode_cursor(encode_cursor(POSITION, FILTERS), FILTERS, **ARGS) == POSITION


def forge(payload) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        forge([1, 2]),
        forge({"p": POSITION, "f": "0000"}),
        encode_cursor({**POSITION, "gsi1pk": "T#acme#INT#S#APPROVED"}, FILTERS),
        encode_cursor({**POSITION, "pk": "T#globex#INT#1"}, FILTERS),
        encode_cursor({**POSITION, "extra": "x"}, FILTERS),
        encode_cursor({"pk": "T#acme#INT#1"}, FILTERS),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_tampered_or_foreign_cursor_is_a_validation_error(cursor):
    with pytest.raises(ValidationFailed) as caught:
        decode_cursor(cursor, FILTERS, **ARGS)
    assert caught.value.details[0]["loc"] == ["query", "cursor"]


def test_cursor_of_another_filter_is_refused():
    with pytest.raises(ValidationFailed):
        decode_cursor(encode_cursor(POSITION, FILTERS), {"status": "PENDING", "type": "approval"}, **ARGS)
