"""Password hashing (Argon2id) and the rules a new password must meet.

Verification always runs one Argon2 check, against a dummy hash when there is
no stored one, so an unknown email answers as slowly as a wrong password.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from authsome.errors import InvalidInput

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024

_hasher = PasswordHasher()
# Made once by ``_hasher.hash`` (same parameters, so verifying against it
# takes as long as against a real hash; a test checks that). Not hashed at
# import: that cost every daemon start a tenth of a second and 64 MiB.
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$3BafQHrUEP5SeA49IRR2WA$"
    "VGPjjfy155QCweRYeKq0k7w0vALsq5CrtC+Z3Q7I3Mw"
)

# Long enough to pass the length rule, yet among the first guesses of any
# cracking list: keyboard walks, repeated words, digit runs.
_COMMON = frozenset(
    {
        "000000000000",
        "111111111111",
        "123123123123",
        "123412341234",
        "123456789012",
        "1234567890ab",
        "1q2w3e4r5t6y",
        "1qaz2wsx3edc",
        "abc123abc123",
        "abcdefghijkl",
        "administrator",
        "administrator1",
        "adminadmin123",
        "asdfghjkl123",
        "changeme1234",
        "football1234",
        "iloveyou1234",
        "letmein12345",
        "welcome12345",
        "passw0rd1234",
        "password1234",
        "password12345",
        "password123!",
        "passwordpassword",
        "qwerty123456",
        "qwertyqwerty",
        "qwertyuiop12",
        "qwertyuiopasdf",
        "superman1234",
        "trustno1trustno1",
        "zaq12wsxcde3",
        "authsome1234",
        "authsomeauthsome",
    }
)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_strength(password: str, *, email: str | None = None) -> None:
    """Refuse short, listed or email-derived passwords (``InvalidInput``)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"passwords may have at most {MAX_PASSWORD_LENGTH} characters")
    folded = password.lower()
    if folded in _COMMON or len(set(folded)) < 4:
        raise InvalidInput("that password is too common; choose a longer phrase")
    if email and folded in {email.lower(), email.lower().partition("@")[0]}:
        raise InvalidInput("the password must not be your email address")


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; one Argon2 run whether or not a hash exists."""
    try:
        _hasher.verify(stored_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return stored_hash is not None


def needs_rehash(stored_hash: str) -> bool:
    """Whether the hash was made with other parameters than today's."""
    return _hasher.check_needs_rehash(stored_hash)
