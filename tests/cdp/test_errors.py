"""Domain errors: one shape everywhere. The message stands beside its field (a form
shows it there), and what the API answers and commands print names the field first."""

import pytest

from attribution.errors import InvalidCost, NoCompletedRun, UnknownGoal, UnknownModel
from cdp.api.errors import error_body
from cdp.errors import InvalidField, OmnitrailError
from consent.errors import InvalidIdentifier, UnknownIdentifier, UnknownPurpose
from identity.errors import MergeRefused


def test_an_error_names_its_field_first_and_keeps_the_message_for_beside_it():
    error = InvalidCost("must not be negative", field="[1].cost")

    assert str(error) == "[1].cost: must not be negative"
    assert (error.field, error.message) == ("[1].cost", "must not be negative")
    assert error_body(error) == {
        "code": "invalid_field",
        "message": "[1].cost: must not be negative",
        "field": "[1].cost",
    }
    whole = OmnitrailError("the file is empty")
    assert str(whole) == "the file is empty" and error_body(whole) == {
        "code": "invalid_request",
        "message": "the file is empty",
    }


@pytest.mark.parametrize(
    ("error", "code", "status", "also"),
    [
        (UnknownGoal("no goal 'x'", field="goal"), "unknown_goal", 400, LookupError),
        (UnknownModel("unknown magic", field="models"), "unknown_model", 400, ValueError),
        (NoCompletedRun("no run", field="goal"), "no_run", 400, LookupError),
        (InvalidField("required", field="channel"), "invalid_field", 400, ValueError),
        (UnknownPurpose("no purpose 'x'"), "unknown_purpose", 400, LookupError),
        (InvalidIdentifier("kind:value", field="id"), "invalid_identifier", 400, ValueError),
        (UnknownIdentifier("nobody", field="id"), "unknown_identifier", 400, LookupError),
        (MergeRefused("already one"), "merge_refused", 409, OmnitrailError),
    ],
)
def test_each_domain_error_has_its_code_and_status(error, code, status, also):
    assert isinstance(error, OmnitrailError) and isinstance(error, also)
    assert (error.code, error.status) == (code, status)
