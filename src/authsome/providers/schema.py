"""The provider definition file (DESIGN §1): its pydantic model and loader.

Field names are a contract shared with upstream Authsome provider files, so
users can bring theirs. Unknown fields are refused, so a typo such as
``header_nmae`` fails loudly instead of silently falling back to a default.
A few upstream fields that only describe a provider to humans or repeat what
``flow`` already says are accepted and dropped (see ``_UPSTREAM_ONLY``); an
``api_url`` given as one string is read as a one-entry list.

Example::

    >>> defn = load_provider_json(raw_bytes, source="acme.json")
    >>> defn.api_key.header_value("<key>")      # "Bearer <key>"

Every failure is an :class:`authsome.errors.InvalidProvider` whose message
starts with the source and names the field, e.g.
``acme.json: api_key.header_name: 'X Key' is not a valid HTTP header name``.
"""

from __future__ import annotations

import base64
import difflib
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from authsome.errors import InvalidProvider
from authsome.providers.matching import (
    BASE_URL_PLACEHOLDER,
    HostPattern,
    is_templated,
    parse_path_prefix,
)

AuthType = Literal["api_key", "oauth2"]
Flow = Literal["api_key", "pkce", "device_code", "dcr_pkce"]
AuthScheme = Literal["header", "basic"]
Injection = Literal["proxy", "unsupported"]

#: The one placeholder in ``header_template`` and ``basic_credentials``.
KEY_PLACEHOLDER = "{key}"

#: ``export`` sources naming one half of an API key stored as a ``user:secret``
#: pair (``basic_credentials`` ``"{key}"``): the part before the first colon and
#: the part after it, as SDKs that take the two separately read them.
API_KEY_USER = "API_KEY_USER"
API_KEY_PASSWORD = "API_KEY_PASSWORD"  # noqa: S105 - a source name, not a secret
PAIR_SOURCES = frozenset({API_KEY_USER, API_KEY_PASSWORD})

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
_ENV_VAR = re.compile(r"[A-Z_][A-Z0-9_]*")
_EXPORT_SOURCE = re.compile(r"[A-Z][A-Z0-9_]*")
_HTTP_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_HEADER_TEXT = re.compile(r"[\x20-\x7e]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_MAX_URL_LENGTH = 2048
_MAX_KEY_PATTERN_LENGTH = 512

#: Headers a credential must never be injected into: they frame the message,
#: route it, or belong to the hop between the agent and the proxy.
_RESERVED_HEADERS = frozenset(
    {
        "connection",
        "content-length",
        "host",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

#: Upstream fields accepted for compatibility and dropped: display-only or
#: implied by ``flow``.
_UPSTREAM_ONLY: dict[str, frozenset[str]] = {
    "provider": frozenset({"logo", "type"}),
    "oauth": frozenset({"pkce", "supports_device_code", "supports_device_flow", "supports_dcr"}),
}

#: The URLs each OAuth flow cannot start without. ``dcr_pkce`` may discover
#: all of them from the service's metadata.
_FLOW_NEEDS: dict[str, tuple[str, ...]] = {
    "pkce": ("authorization_url", "token_url"),
    "device_code": ("device_authorization_url", "token_url"),
    "dcr_pkce": (),
}


def _invalid(message: str, field: str | None = None) -> PydanticCustomError:
    """A validation error whose message is shown as is, optionally naming a field."""
    return PydanticCustomError(
        "invalid_provider", "{message}", {"message": message, "field": field}
    )


def _drop_upstream_only(data: Any, block: str) -> Any:
    if isinstance(data, Mapping):
        return {k: v for k, v in data.items() if k not in _UPSTREAM_ONLY[block]}
    return data


def _check_text(value: str, *, limit: int) -> str:
    if not value.strip():
        raise _invalid("must not be empty")
    if len(value) > limit:
        raise _invalid(f"must be at most {limit} characters")
    if _CONTROL.search(value):
        raise _invalid("must not contain control characters or line breaks")
    return value


def _check_name(value: str) -> str:
    if not _NAME.fullmatch(value) or ".." in value:
        raise _invalid(
            f"{value!r} is not a valid provider name: lower-case letters, digits, '.', '_' "
            "or '-', starting with a letter or digit, at most 63 characters, no '..'"
        )
    return value


def _check_header_name(value: str) -> str:
    if not _HTTP_TOKEN.fullmatch(value):
        raise _invalid(f"{value!r} is not a valid HTTP header name")
    if value.lower() in _RESERVED_HEADERS:
        raise _invalid(f"{value!r} frames or routes the request; a credential cannot go there")
    return value


def _check_header_prefix(value: str | None) -> str:
    """``None`` and blanks become ``""`` (no prefix), which survives a dump without nulls."""
    if value is None:
        return ""
    if not _HEADER_TEXT.fullmatch(value):
        raise _invalid("must be printable ASCII, without line breaks or control characters")
    return value.strip()


def _check_key_template(value: str | None) -> str | None:
    """A header text with exactly one ``{key}`` and no other braces."""
    if value is None:
        return None
    if not _HEADER_TEXT.fullmatch(value):
        raise _invalid("must be printable ASCII, without line breaks or control characters")
    rest = value.replace(KEY_PLACEHOLDER, "", 1)
    if KEY_PLACEHOLDER not in value or "{" in rest or "}" in rest:
        raise _invalid("must contain '{key}' exactly once and no other braces")
    return value


def _check_url(
    value: str, *, template: bool = False, query: bool = True, fragment: bool = False
) -> str:
    """An https URL (http only to loopback), or ``{base_url}/path`` when ``template``."""
    if len(value) > _MAX_URL_LENGTH or _CONTROL.search(value) or " " in value:
        raise _invalid("must be a URL without spaces or control characters, at most 2048 long")
    if template and value.startswith(BASE_URL_PLACEHOLDER):
        rest = value[len(BASE_URL_PLACEHOLDER) :]
        if (rest and rest[0] not in "/?") or "{" in rest or "}" in rest:
            raise _invalid("after {base_url} only a path or query may follow")
        return value
    if "{" in value or "}" in value:
        if not template:
            raise _invalid("placeholders such as {base_url} are not allowed here")
        raise _invalid("a placeholder is only allowed as {base_url} at the start of the URL")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError as exc:
        raise _invalid(f"is not a valid URL ({exc})") from None
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" and not (parts.scheme == "http" and host in _LOOPBACK_HOSTS):
        raise _invalid("must be an https:// URL (http:// only for localhost)")
    if not host or parts.username is not None or parts.password is not None:
        raise _invalid("must name a host and carry no user info")
    if (parts.fragment and not fragment) or (parts.query and not query):
        raise _invalid("must not carry a fragment" if query else "must be a bare base URL")
    return value


def _check_api_url_entry(entry: str) -> str:
    try:
        if is_templated(entry):
            rest = entry.removeprefix(BASE_URL_PLACEHOLDER)
            if BASE_URL_PLACEHOLDER in rest or "{" in rest or "}" in rest:
                raise ValueError("{base_url} must start the entry and appear once")
            parse_path_prefix(rest)
        else:
            HostPattern.parse(entry)
    except ValueError as exc:
        raise _invalid(f"{entry!r}: {exc}") from None
    return entry


def _as_list(value: Any) -> Any:
    """Upstream files may give ``api_url`` as a single string."""
    return [value] if isinstance(value, str) else value


OAuthUrl = Annotated[str, AfterValidator(lambda v: _check_url(v, template=True))]
#: RFC 8414 §2: an issuer has no query and no fragment.
OAuthIssuer = Annotated[str, AfterValidator(lambda v: _check_url(v, template=True, query=False))]
ApiUrlEntry = Annotated[str, AfterValidator(_check_api_url_entry)]


class ApiKeyConfig(BaseModel):
    """Where an API key goes on a request, and how a plausible key looks.

    ``auth_scheme`` ``"header"`` (the default) sends the key in ``header_name``:
    as ``<header_prefix> <key>``, as the raw key when the prefix is ``""``
    (``null`` reads as ``""``: ``x-api-key: <key>``), or through
    ``header_template`` for schemes a prefix cannot spell (``"Token token={key}"``).

    ``auth_scheme`` ``"basic"`` sends ``Authorization: Basic base64(...)`` of
    ``basic_credentials``, a ``user:password`` template holding ``{key}``:
    ``"{key}:"`` for services that take the key as the username (Stripe,
    Ashby), ``"anystring:{key}"`` or ``":{key}"`` for those that take it as
    the password, and ``"{key}"`` when the stored key is itself the
    ``user:secret`` pair (Twilio's ``SID:token``; a ``key_pattern`` is then
    required so that login checks the pair's shape). Only with exactly
    ``"{key}"`` (``stores_pair``) may the provider's ``export`` name the
    pair's halves, ``API_KEY_USER`` and ``API_KEY_PASSWORD``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    auth_scheme: AuthScheme = "header"
    header_name: Annotated[str, AfterValidator(_check_header_name)] = "Authorization"
    header_prefix: Annotated[str | None, AfterValidator(_check_header_prefix)] = "Bearer"
    header_template: Annotated[str | None, AfterValidator(_check_key_template)] = None
    basic_credentials: Annotated[str | None, AfterValidator(_check_key_template)] = None
    env_var: str | None = None
    key_pattern: str | None = None
    key_pattern_hint: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_default_prefix(cls, data: Any) -> Any:
        """Basic and templates build the whole value: drop the default "Bearer" prefix."""
        if not isinstance(data, Mapping) or "header_prefix" in data:
            return data
        if data.get("auth_scheme") == "basic" or data.get("header_template") is not None:
            return {**data, "header_prefix": ""}
        return data

    @field_validator("env_var")
    @classmethod
    def _env_var(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_VAR.fullmatch(value):
            raise _invalid(f"{value!r} is not an environment variable name ([A-Z_][A-Z0-9_]*)")
        return value

    @field_validator("key_pattern")
    @classmethod
    def _key_pattern(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if len(value) > _MAX_KEY_PATTERN_LENGTH:
            raise _invalid(f"must be at most {_MAX_KEY_PATTERN_LENGTH} characters")
        try:
            re.compile(value)
        except re.error as exc:
            raise _invalid(f"is not a valid regular expression ({exc})") from None
        return value

    @field_validator("key_pattern_hint")
    @classmethod
    def _hint(cls, value: str | None) -> str | None:
        return None if value is None else _check_text(value, limit=300)

    @model_validator(mode="after")
    def _scheme_fields(self) -> ApiKeyConfig:
        if self.auth_scheme == "header":
            if self.basic_credentials is not None:
                raise _invalid("only used with auth_scheme 'basic'", "api_key.basic_credentials")
            if self.header_template is not None and self.header_prefix:
                raise _invalid(
                    "give header_prefix or header_template, not both", "api_key.header_template"
                )
            return self
        if self.basic_credentials is None:
            raise _invalid("required when auth_scheme is 'basic'", "api_key.basic_credentials")
        if self.header_name.lower() != "authorization":
            raise _invalid("HTTP Basic always uses 'Authorization'", "api_key.header_name")
        if self.header_template is not None or self.header_prefix not in ("", "Basic"):
            raise _invalid(
                "HTTP Basic builds the whole header value; leave the prefix and template out",
                "api_key.header_prefix",
            )
        has_colon = ":" in self.basic_credentials.replace(KEY_PLACEHOLDER, "")
        if not has_colon and self.key_pattern is None:
            raise _invalid(
                "'{key}' alone means the key is a 'user:secret' pair; "
                "add a key_pattern so that login checks that shape",
                "api_key.basic_credentials",
            )
        return self

    @property
    def stores_pair(self) -> bool:
        """Whether the stored key is the whole Basic ``user:secret`` pair."""
        return self.auth_scheme == "basic" and self.basic_credentials == KEY_PLACEHOLDER

    def header_value(self, key: str) -> str:
        """The header value carrying ``key``, e.g. ``"Bearer <key>"`` or ``"Basic <b64>"``."""
        if self.basic_credentials is not None:
            pair = self.basic_credentials.replace(KEY_PLACEHOLDER, key, 1)
            return "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        if self.header_template is not None:
            return self.header_template.replace(KEY_PLACEHOLDER, key, 1)
        return f"{self.header_prefix} {key}" if self.header_prefix else key

    def describe(self) -> str:
        """The header as documentation shows it, e.g. ``Authorization: Bearer <key>``."""
        if self.basic_credentials is not None:
            pair = self.basic_credentials.replace(KEY_PLACEHOLDER, "<key>", 1)
            return f"Authorization: Basic base64({pair})"
        return f"{self.header_name}: {self.header_value('<key>')}"

    def key_matches(self, key: str) -> bool:
        """Whether ``key`` looks like this provider's keys (always, without a pattern)."""
        return self.key_pattern is None or re.fullmatch(self.key_pattern, key) is not None


class OAuthConfig(BaseModel):
    """OAuth2 endpoints. URLs may start with ``{base_url}`` (multi-tenant services).

    ``base_url`` is the default for ``{base_url}`` in these URLs (the public
    service, e.g. ``https://gitlab.com``); a connection to a self-hosted or
    per-tenant instance supplies its own. ``revocation_url`` is listed only
    where the token itself is POSTed to be revoked (RFC 7009 or close to it),
    not for endpoints that revoke whichever token authenticates the call.
    The access token is sent as ``<header_prefix> <token>`` in
    ``header_name`` (``Authorization: Bearer`` unless the service documents
    otherwise). ``issuer`` (optional, not in upstream files) is the server's
    issuer identifier (RFC 8414): with it, the ``iss`` of an authorization
    response (RFC 9207) must equal it exactly; without it only the origin of
    ``iss`` can be compared with the authorization endpoint's.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    authorization_url: OAuthUrl | None = None
    token_url: OAuthUrl | None = None
    revocation_url: OAuthUrl | None = None
    device_authorization_url: OAuthUrl | None = None
    registration_url: OAuthUrl | None = None
    issuer: OAuthIssuer | None = None
    scopes: tuple[str, ...] = ()
    base_url: str | None = None
    header_name: Annotated[str, AfterValidator(_check_header_name)] = "Authorization"
    header_prefix: Annotated[str | None, AfterValidator(_check_header_prefix)] = "Bearer"

    @model_validator(mode="before")
    @classmethod
    def _drop_upstream(cls, data: Any) -> Any:
        return _drop_upstream_only(data, "oauth")

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for scope in value:
            if not _SCOPE.fullmatch(scope):
                raise _invalid(f"{scope!r} is not an OAuth scope (no spaces, quotes or '\\')")
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value, query=False)


def _check_export(value: dict[str, str]) -> dict[str, str]:
    for env_name, source in value.items():
        if not _ENV_VAR.fullmatch(env_name):
            raise _invalid(f"{env_name!r} is not an environment variable name ([A-Z_][A-Z0-9_]*)")
        if not _EXPORT_SOURCE.fullmatch(source):
            raise _invalid(
                f"{env_name!r}: {source!r} is not a credential field name such as 'API_KEY'"
            )
    return value


def pair_part(key: str, source: str) -> str | None:
    """``source``'s half (:data:`PAIR_SOURCES`) of a ``user:secret`` key.

    ``None`` when the key holds no colon or that half is empty: a half that
    is not there is not made up.
    """
    user, colon, password = key.partition(":")
    part = user if source == API_KEY_USER else password
    return part if colon and part else None


class ProviderDefinition(BaseModel):
    """One provider: how to log in to a service and where its API lives.

    ``injection`` ``"unsupported"`` marks a service whose credential the
    proxy cannot add to a request (a key in the URL query, a request
    signature); ``injection_reason`` says why, and the proxy answers 403
    with it instead of forwarding a request that would fail upstream.

    ``alternative_to`` names another provider that is a different way into
    the same API (a personal access token beside OAuth). Only such a pair
    may claim the same host and path; the proxy then uses the first of
    them, the named one first, for which the caller has a connection.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1]
    name: Annotated[str, AfterValidator(_check_name)]
    display_name: Annotated[str, AfterValidator(lambda v: _check_text(v, limit=100))]
    description: Annotated[str, AfterValidator(lambda v: _check_text(v, limit=1000))] | None = None
    docs_url: Annotated[str, AfterValidator(lambda v: _check_url(v, fragment=True))] | None = None
    auth_type: AuthType
    flow: Flow
    api_url: Annotated[tuple[ApiUrlEntry, ...], BeforeValidator(_as_list), Field(min_length=1)]
    api_key: ApiKeyConfig | None = None
    oauth: OAuthConfig | None = None
    export: Annotated[dict[str, str], AfterValidator(_check_export)] | None = None
    injection: Injection = "proxy"
    injection_reason: Annotated[str, AfterValidator(lambda v: _check_text(v, limit=500))] | None = (
        None
    )
    alternative_to: Annotated[str, AfterValidator(_check_name)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_upstream(cls, data: Any) -> Any:
        return _drop_upstream_only(data, "provider")

    def header_display(self) -> str | None:
        """How the credential travels, e.g. ``Authorization: Bearer <key>``; ``None`` if never."""
        if self.injection == "unsupported":
            return None
        if self.api_key is not None:
            return self.api_key.describe()
        assert self.oauth is not None
        prefix = f"{self.oauth.header_prefix} " if self.oauth.header_prefix else ""
        return f"{self.oauth.header_name}: {prefix}<token>"

    @model_validator(mode="after")
    def _pair_sources(self) -> ProviderDefinition:
        """A key's halves exist only where the stored key is a Basic pair."""
        if self.api_key is not None and self.api_key.stores_pair:
            return self
        for env_name, source in (self.export or {}).items():
            if source in PAIR_SOURCES:
                raise _invalid(
                    f"{source!r} is one half of a 'user:secret' key; only an api_key "
                    "with auth_scheme 'basic' and basic_credentials '{key}' stores one",
                    f"export.{env_name}",
                )
        return self

    @model_validator(mode="after")
    def _consistent(self) -> ProviderDefinition:
        if (self.injection == "unsupported") != (self.injection_reason is not None):
            raise _invalid("required exactly when injection is 'unsupported'", "injection_reason")
        if self.alternative_to == self.name:
            raise _invalid("a provider cannot be an alternative to itself", "alternative_to")
        if self.auth_type == "api_key":
            if self.flow != "api_key":
                raise _invalid("an api_key provider must use flow 'api_key'", "flow")
            if self.api_key is None:
                raise _invalid("required when auth_type is 'api_key'", "api_key")
            if self.oauth is not None:
                raise _invalid("only allowed when auth_type is 'oauth2'", "oauth")
            return self
        if self.flow == "api_key":
            raise _invalid("an oauth2 provider needs flow pkce, device_code or dcr_pkce", "flow")
        if self.api_key is not None:
            raise _invalid("only allowed when auth_type is 'api_key'", "api_key")
        if self.oauth is None:
            raise _invalid("required when auth_type is 'oauth2'", "oauth")
        for url_field in _FLOW_NEEDS[self.flow]:
            if getattr(self.oauth, url_field) is None:
                raise _invalid(f"required for flow '{self.flow}'", f"oauth.{url_field}")
        return self


# --- loading and error messages ------------------------------------------------------

_BLOCK_MODELS: dict[tuple[str | int, ...], type[BaseModel]] = {
    (): ProviderDefinition,
    ("api_key",): ApiKeyConfig,
    ("oauth",): OAuthConfig,
}


def _field_path(loc: tuple[str | int, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path or "(top level)"


def _describe(error: ErrorDetails) -> str:
    loc = tuple(error["loc"])
    ctx = error.get("ctx") or {}
    if error["type"] == "invalid_provider":
        field = ctx.get("field")
        return f"{field or _field_path(loc)}: {ctx['message']}"
    if error["type"] == "extra_forbidden":
        known = _BLOCK_MODELS.get(loc[:-1])
        guess = difflib.get_close_matches(
            str(loc[-1]), list(known.model_fields) if known else [], 1
        )
        return f"{_field_path(loc)}: unknown field" + (
            f" (did you mean {guess[0]!r}?)" if guess else ""
        )
    if error["type"] == "missing":
        return f"{_field_path(loc)}: required field is missing"
    return f"{_field_path(loc)}: {error['msg']}"


def load_provider_data(data: object, *, source: str) -> ProviderDefinition:
    """Validate already-parsed JSON; raise :class:`InvalidProvider` naming fields."""
    try:
        return ProviderDefinition.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_describe(error) for error in exc.errors(include_input=False))
        raise InvalidProvider(f"{source}: {problems}") from None


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def load_provider_json(raw: bytes | str, *, source: str) -> ProviderDefinition:
    """Parse and validate one provider file.

    ``source`` names where it came from (a path, ``"request body"``) and
    starts every error message. Malformed JSON is reported with its line and
    column; duplicate keys are refused, since they hide which value wins.
    """
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise InvalidProvider(f"{source}: not UTF-8 text") from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise InvalidProvider(
            f"{source}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except ValueError as exc:
        raise InvalidProvider(f"{source}: invalid JSON: {exc}") from None
    except RecursionError:
        raise InvalidProvider(f"{source}: invalid JSON: nested too deeply") from None
    return load_provider_data(data, source=source)
