"""The error tree: unique codes, DESIGN §9 exit codes, one JSON shape."""

from __future__ import annotations

from authsome import errors
from tests.support.pop import PROOF_REFUSAL_CODES

DESIGN_EXIT_CODES = {
    "ConnectionNotFound": 3,
    "ProviderNotFound": 4,
    "OperationNotAllowed": 4,
    "CredentialUnavailable": 5,
    "ConnectionExists": 6,
    "ProviderExists": 7,
    "EndpointUnreachable": 8,
    "DaemonUnavailable": 9,
    "AuthenticationFailed": 2,
    "InvalidInput": 2,
    "AuthsomeError": 1,
}


def test_codes_are_unique() -> None:
    codes = [cls.code for cls in errors.ALL_ERROR_CLASSES]
    assert len(codes) == len(set(codes))


def test_exit_codes_follow_design() -> None:
    by_name = {cls.__name__: cls for cls in errors.ALL_ERROR_CLASSES}
    for name, code in DESIGN_EXIT_CODES.items():
        assert by_name[name].exit_code == code, name
    for cls in errors.ALL_ERROR_CLASSES:
        assert 1 <= cls.exit_code <= 9
        assert 400 <= cls.http_status <= 599


def test_pop_failures_are_401_with_design_codes() -> None:
    found = {
        cls.code for cls in errors.ALL_ERROR_CLASSES if issubclass(cls, errors.AuthenticationFailed)
    }
    assert found >= PROOF_REFUSAL_CODES
    assert all(errors.error_class_for(code).http_status == 401 for code in PROOF_REFUSAL_CODES)


def test_round_trip_through_json() -> None:
    original = errors.ConnectionExists(
        "openai already has 'default'", hint="authsome login openai --force"
    )
    body = original.to_json()
    assert set(body) == {"error", "message", "hint"}
    rebuilt = errors.error_class_for(body["error"])(body["message"], hint=body["hint"])
    assert type(rebuilt) is errors.ConnectionExists and rebuilt.exit_code == 6
    assert errors.error_class_for("no_such_code") is errors.AuthsomeError
