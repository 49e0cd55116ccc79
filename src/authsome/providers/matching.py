"""Which provider, if any, owns a request: pure functions of host and path.

Each ``api_url`` entry of a provider becomes one :class:`HostPattern`; a
:class:`ProviderMatcher` indexes the patterns of a whole catalogue once, when
the catalogue changes, so that the proxy's per-request work is a handful of
dictionary lookups.

Rules (DESIGN §1, "Provider definition"):

- ``api.acme.com`` matches exactly that host.
- ``*.acme.io`` matches any host that ends in ``.acme.io`` with **one or more**
  whole labels before it (``x.acme.io``, ``a.b.acme.io``), never ``acme.io``
  itself, ``evilacme.io`` or ``acme.io.evil.test``. The ``*`` is only ever the
  whole first label, and at least two labels follow it.
- ``https://acme.com/api/`` also restricts the path to the prefix ``/api``,
  compared on segment boundaries: ``/api`` and ``/api/x`` match, ``/apix``
  does not. A request path with ``.`` or ``..`` segments (also written
  ``%2e``) never matches a path-restricted pattern, since the server would
  resolve it to some other path.
- Hosts compare case-insensitively and without a trailing dot; paths compare
  case-sensitively, without query or fragment.
- The most specific pattern wins: an exact host beats any wildcard, a
  wildcard with more labels beats one with fewer; then a path prefix beats no
  path and a longer prefix beats a shorter one. Two providers claiming the
  same host pattern and path are a configuration error, raised when the
  matcher is built, unless they are alternatives (one names the other in
  ``alternative_to``, or both name the same provider): such a pattern leads
  to all of them, the named provider first and the rest by name, and
  ``match_all`` returns that order so the caller can use the first one it
  holds a connection for.

Entries with a ``{base_url}`` placeholder (multi-tenant services: GitHub
Enterprise, self-managed GitLab, a Shopify shop) match nothing on their own.
A connection logged in with a base URL is an :class:`Instance`;
``ProviderMatcher.with_instances`` adds, for each, the provider's templated
entries filled with that base URL (:func:`resolve_base_url`). Such a
pattern leads to that connection only (its :class:`Owner` names it), so one
vault's GitHub Enterprise token goes to its own server and nowhere else. The
patterns follow the rules above; an instance pattern equal to another
provider's pattern is left out and reported in ``conflicts`` (the login that
would create it is refused), and one equal to its own provider's listed
pattern is served as that listed pattern. A base URL must be
:func:`check_instance_base_url`-clean: an https URL of a DNS name, no IP
literal, port, user info, query or fragment.

Example::

    >>> m = ProviderMatcher([openai, openrouter])
    >>> m.match("API.OpenAI.com.", "/v1/chat/completions")
    'openai'
    >>> m.match("openrouter.ai", "/apix") is None
    True
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

from authsome.errors import InvalidProvider

if TYPE_CHECKING:
    from authsome.providers.schema import ProviderDefinition

BASE_URL_PLACEHOLDER = "{base_url}"

_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_PATH = re.compile(r"(?:/[A-Za-z0-9\-._~!$&'()+,;=:@]+)+/?")
_MAX_HOST_LENGTH = 253


def normalize_host(host: str) -> str:
    """Lower-case ``host`` and drop one trailing dot (``API.x.com.`` → ``api.x.com``)."""
    host = host.lower()
    return host[:-1] if host.endswith(".") else host


def is_templated(entry: str) -> bool:
    """Whether an ``api_url`` entry waits for ``{base_url}`` to be resolved."""
    return BASE_URL_PLACEHOLDER in entry


def check_instance_base_url(base_url: str) -> str:
    """A tenant's base URL as stored and matched: ``https://host[/path]``, no trailing slash.

    The host must be a DNS name of two or more labels (``ghe.corp.example``),
    never an IP literal: a tenant of a hosted service has a name, and an
    address (loopback included) would point a credential at whatever listens
    there. No user info, port, query or fragment; a path is plain segments
    (``https://corp.example/gitlab``). ``ValueError`` with a message fit for
    users otherwise.
    """
    text = base_url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid URL ({exc})") from None
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise ValueError("a base URL must be an https:// URL with a host")
    if parts.username is not None or port is not None or parts.query or parts.fragment:
        raise ValueError("a base URL must not carry user info, a port, a query or a fragment")
    if "#" in text or "?" in text:
        raise ValueError("a base URL must not carry a query or a fragment")
    host = normalize_host(parts.hostname)
    if _is_ip_literal(host):
        raise ValueError("a base URL must name its host, not an IP address")
    labels = host.split(".")
    if len(labels) < 2 or len(host) > _MAX_HOST_LENGTH:
        raise ValueError(f"{host!r} is not a full host name (e.g. ghe.corp.example)")
    if not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{host!r} is not a valid host name")
    path = parts.path.rstrip("/")
    if path:
        parse_path_prefix(path)  # plain segments only, no '.' or '..'
    return f"https://{host}{path}"


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def resolve_base_url(entry: str, base_url: str) -> str:
    """Fill ``{base_url}`` in an ``api_url`` entry with a tenant's base URL.

    ``resolve_base_url("{base_url}/api/", "https://ghe.corp.example")`` is
    ``"https://ghe.corp.example/api/"``. ``base_url`` must pass
    :func:`check_instance_base_url`; ``ValueError`` otherwise.
    """
    if not entry.startswith(BASE_URL_PLACEHOLDER):
        raise ValueError("the entry does not start with {base_url}")
    return check_instance_base_url(base_url) + entry[len(BASE_URL_PLACEHOLDER) :]


def _parse_host(text: str) -> tuple[str, bool]:
    """``(host or wildcard suffix, is_wildcard)``, or ``ValueError`` saying why not."""
    host = normalize_host(text)
    if not host:
        raise ValueError("the host is empty")
    if len(host) > _MAX_HOST_LENGTH:
        raise ValueError("the host is longer than 253 characters")
    labels = host.split(".")
    wildcard = labels[0] == "*"
    if wildcard:
        labels = labels[1:]
        if len(labels) < 2:
            raise ValueError("a wildcard needs at least two labels after '*.' (e.g. '*.acme.io')")
    if any("*" in label for label in labels):
        raise ValueError("'*' is only allowed as the whole first label ('*.acme.io')")
    for label in labels:
        if not _LABEL.fullmatch(label):
            raise ValueError(
                f"{label!r} is not a valid host label "
                "(letters, digits, '-' or '_', at most 63, no '-' at either end)"
            )
    return ".".join(labels), wildcard


def parse_path_prefix(path: str) -> str | None:
    """The prefix without its trailing slash, or ``None`` for "any path"."""
    if path in ("", "/"):
        return None
    if not _PATH.fullmatch(path):
        raise ValueError(
            "the path must be plain segments such as '/api/' "
            "(no '*', '%', '?', '#', '//' or spaces)"
        )
    prefix = path.rstrip("/")
    if any(segment in (".", "..") for segment in prefix.split("/")):
        raise ValueError("the path must not contain '.' or '..' segments")
    return prefix


@dataclass(frozen=True)
class HostPattern:
    """One parsed ``api_url`` entry.

    ``host`` is the exact host, or for a wildcard the suffix after ``*.``;
    ``path`` is a prefix without trailing slash (``/api``) or ``None``.
    """

    host: str
    wildcard: bool = False
    path: str | None = None

    @classmethod
    def parse(cls, entry: str) -> HostPattern:
        """Parse an entry such as ``api.acme.com``, ``*.acme.io`` or ``https://acme.com/api/``.

        Raises ``ValueError`` with a message fit for users; ``{base_url}``
        templates are refused here (see :func:`is_templated`).
        """
        if is_templated(entry):
            raise ValueError("a {base_url} entry must be resolved before it is parsed")
        if entry.startswith("regex:"):
            raise ValueError("regex: entries are not supported; list hosts or '*.' wildcards")
        scheme, sep, rest = entry.partition("://")
        if not sep:
            if "/" in entry:
                raise ValueError("an entry with a path must be an https:// URL")
            host, wildcard = _parse_host(entry)
            return cls(host, wildcard)
        if scheme.lower() != "https":
            raise ValueError("only https:// URLs are allowed")
        if "?" in rest or "#" in rest:
            raise ValueError("the URL must not carry a query or a fragment")
        authority, slash, path = rest.partition("/")
        if any(char in authority for char in "@:?#[]"):
            raise ValueError("the URL must not carry user info or a port")
        host, wildcard = _parse_host(authority)
        return cls(host, wildcard, parse_path_prefix(slash + path))

    def matches(self, host: str, path: str) -> bool:
        """Whether a request to ``host`` and ``path`` falls under this pattern."""
        host = normalize_host(host)
        if self.wildcard:
            if not host.endswith("." + self.host) or not _labels_ok(host):
                return False
        elif host != self.host:
            return False
        return self.path is None or _prefix_accepts(self.path, _request_path(path))

    def __str__(self) -> str:
        host = f"*.{self.host}" if self.wildcard else self.host
        return f"https://{host}{self.path}/" if self.path else host


def _labels_ok(host: str) -> bool:
    return bool(host) and not host.startswith(".") and ".." not in host


_DOT_SEGMENT = re.compile(r"(?:^|/)\.{1,2}(?:/|$)")


def _request_path(path: str) -> str | None:
    """The request path cut at ``?``/``#``; ``None`` if it has dot segments."""
    path = path.split("?", 1)[0].split("#", 1)[0] or "/"
    if "." in path or "%" in path or "\\" in path:
        decoded = path.replace("%2e", ".").replace("%2E", ".").replace("\\", "/")
        decoded = decoded.replace("%2f", "/").replace("%2F", "/")
        if _DOT_SEGMENT.search(decoded):
            return None
    return path


class Instance(NamedTuple):
    """One connection's own instance of a multi-tenant provider (GHE, a Shopify shop)."""

    provider: str
    connection: str
    base_url: str


class Owner(NamedTuple):
    """Where a matched request's credential comes from.

    ``connection`` is ``None`` on a provider's listed hosts (the run's choice
    of connection applies); on an instance's hosts it names the one
    connection logged in there, and ``base_url`` the instance it was matched for.
    """

    provider: str
    connection: str | None = None
    base_url: str | None = None


class Match(NamedTuple):
    """The pattern a request matched and whom it leads to (``ProviderMatcher.matched``).

    ``key`` is this as plain strings: the pattern, then each owner's provider,
    connection and instance (``""`` for none). Requests with equal keys are
    owned alike, so the daemon serves them the same credential: ``authsome run
    --local-proxy`` keeps its answers by it, and a credential given for one
    instance's host is never reused for a listed host or another instance's.
    """

    pattern: HostPattern
    owners: tuple[Owner, ...]
    key: tuple[str, ...]

    @classmethod
    def of(cls, pattern: HostPattern, owners: tuple[Owner, ...]) -> Match:
        fields = [str(pattern)]
        for owner in owners:
            fields += [owner.provider, owner.connection or "", owner.base_url or ""]
        return cls(pattern, owners, tuple(fields))


class _Route(NamedTuple):
    """A path restriction (``None``: any path), and whom it leads to, in order.

    ``match`` is built once with the route, so a request's match costs nothing.
    """

    prefix: str | None
    providers: tuple[str, ...]
    match: Match

    def accepts(self, path: str | None) -> bool:
        return self.prefix is None or _prefix_accepts(self.prefix, path)


def _prefix_accepts(prefix: str, path: str | None) -> bool:
    """``/api`` accepts ``/api`` and ``/api/x``, never ``/apix`` (nor a ``None`` path)."""
    return path is not None and (path == prefix or path.startswith(prefix + "/"))


def _routes_by_depth(routes: list[_Route]) -> tuple[_Route, ...]:
    """Longest prefix first, "any path" last, so the first accepted route wins."""
    return tuple(
        sorted(routes, key=lambda r: -1 if r.prefix is None else r.prefix.count("/"), reverse=True)
    )


def _group(provider: ProviderDefinition) -> str:
    """Providers with the same group are alternatives and may share patterns."""
    return provider.alternative_to or provider.name


def _in_order(names: list[str], group: str) -> tuple[str, ...]:
    """The group's named provider first, then the others by name."""
    return tuple(sorted(names, key=lambda name: (name != group, name)))


class ProviderMatcher:
    """An index of every provider's host patterns, built once per catalogue.

    ``match`` costs one dictionary lookup for the exact host plus one per
    label of the host for wildcards; ``intercepts_host`` the same, with no
    path work, so the proxy can decide before any TLS whether to intercept.
    ``with_instances`` adds connections' own instances to a copy, reusing the
    parsed catalogue.
    """

    def __init__(self, providers: Iterable[ProviderDefinition]) -> None:
        self._providers = {provider.name: provider for provider in providers}
        self._groups: dict[HostPattern, str] = {}
        self._listed: dict[HostPattern, _Route] = {}
        names_of: dict[HostPattern, list[str]] = {}
        for provider in self._providers.values():
            for entry in provider.api_url:
                if not is_templated(entry):
                    self._claim(HostPattern.parse(entry), provider, names_of)
        for pattern, names in names_of.items():
            ordered = _in_order(names, self._groups[pattern])
            owners = tuple(Owner(name) for name in ordered)
            self._listed[pattern] = _Route(pattern.path, ordered, Match.of(pattern, owners))
        self._conflicts: dict[Instance, str] = {}
        self._index(self._listed)

    def _claim(
        self,
        pattern: HostPattern,
        provider: ProviderDefinition,
        names_of: dict[HostPattern, list[str]],
    ) -> None:
        """Record ``provider`` as an owner of ``pattern``; a tie between groups is an error."""
        group = self._groups.setdefault(pattern, _group(provider))
        names = names_of.setdefault(pattern, [])
        if group != _group(provider):
            first, second = sorted((names[0], provider.name))
            raise InvalidProvider(
                f"providers '{first}' and '{second}' both claim '{pattern}'; "
                "a request there would have no single owner",
                hint="narrow one of them with a longer path or a more specific host, "
                "or mark one as alternative_to the other",
            )
        if provider.name not in names:
            names.append(provider.name)

    def with_instances(self, instances: Iterable[Instance]) -> ProviderMatcher:
        """A copy that also matches each instance's hosts, for its connection only.

        An instance whose base URL does not fit, or whose patterns another
        provider already claims, is left out whole and listed in ``conflicts``.
        """
        copy = object.__new__(ProviderMatcher)
        copy._providers, copy._listed = self._providers, self._listed
        copy._groups = dict(self._groups)  # instance patterns join it, for ties between them
        copy._conflicts = {}
        owners: dict[HostPattern, list[Owner]] = {}
        for instance in instances:
            copy._add_instance(instance, owners)
        routes = dict(self._listed)
        for pattern, found in owners.items():
            group = copy._groups[pattern]
            found.sort(key=lambda owner: owner.provider != group)  # stable: given order within
            providers = tuple(dict.fromkeys(owner.provider for owner in found))
            routes[pattern] = _Route(pattern.path, providers, Match.of(pattern, tuple(found)))
        copy._index(routes)
        return copy

    def _add_instance(self, instance: Instance, owners: dict[HostPattern, list[Owner]]) -> None:
        provider = self._providers.get(instance.provider)
        if provider is None:
            return  # its provider was removed: there is nothing to match
        try:
            base_url = check_instance_base_url(instance.base_url)
            patterns = [
                HostPattern.parse(resolve_base_url(entry, base_url))
                for entry in provider.api_url
                if is_templated(entry)
            ]
        except ValueError as exc:
            self._conflicts[instance] = f"its base URL {instance.base_url!r} does not fit: {exc}"
            return
        group = _group(provider)
        for pattern in patterns:
            taken = self._groups.get(pattern)
            if taken is not None and taken != group:
                holder = self._listed[pattern].providers[0] if pattern in self._listed else taken
                self._conflicts[instance] = f"'{pattern}' already belongs to {holder}"
                return
        owner = Owner(instance.provider, instance.connection, base_url)
        for pattern in patterns:
            if pattern in self._listed:
                continue  # the provider's own listed pattern: served as listed
            self._groups.setdefault(pattern, group)
            owners.setdefault(pattern, []).append(owner)

    @property
    def conflicts(self) -> Mapping[Instance, str]:
        """Instances left out by ``with_instances``, and why (for the login that adds one)."""
        return self._conflicts

    def _index(self, routes: Mapping[HostPattern, _Route]) -> None:
        exact: dict[str, list[_Route]] = {}
        wildcard: dict[str, list[_Route]] = {}
        for pattern, route in routes.items():
            table = wildcard if pattern.wildcard else exact
            table.setdefault(pattern.host, []).append(route)
        self._exact = {host: _routes_by_depth(r) for host, r in exact.items()}
        self._wildcard = {suffix: _routes_by_depth(r) for suffix, r in wildcard.items()}

    def _candidates(self, host: str) -> Iterable[tuple[_Route, ...]]:
        """Route lists that could own ``host``, most specific host pattern first."""
        host = normalize_host(host)
        if not _labels_ok(host):
            return
        routes = self._exact.get(host)
        if routes is not None:
            yield routes
        dot = host.find(".")
        while dot != -1:
            routes = self._wildcard.get(host[dot + 1 :])
            if routes is not None:
                yield routes
            dot = host.find(".", dot + 1)

    def _route(self, host: str, path: str) -> _Route | None:
        request_path: str | None = None
        cleaned = False
        for routes in self._candidates(host):
            for route in routes:
                if route.prefix is not None and not cleaned:
                    request_path, cleaned = _request_path(path), True
                if route.accepts(request_path):
                    return route
        return None

    def match_owners(self, host: str, path: str) -> tuple[Owner, ...]:
        """Whom a request goes to, in the order to try them; ``()`` for no one.

        On an instance's hosts every owner names its connection; elsewhere
        none does. ``host`` is the bare host (no port: a host with one
        matches nothing, so the request is tunnelled untouched); ``path``
        may carry a query.
        """
        route = self._route(host, path)
        return route.match.owners if route is not None else ()

    def matched(self, host: str, path: str) -> Match | None:
        """The pattern a request matches and its owners (as ``match_owners``), or ``None``."""
        route = self._route(host, path)
        return route.match if route is not None else None

    def match_all(self, host: str, path: str) -> tuple[str, ...]:
        """Every provider owning a request, in the order to try them; ``()`` for none.

        More than one only for alternatives (see the module docstring).
        """
        route = self._route(host, path)
        return route.providers if route is not None else ()

    def match(self, host: str, path: str) -> str | None:
        """The name of the (first) provider owning a request, or ``None``."""
        found = self.match_all(host, path)
        return found[0] if found else None

    def intercepts_host(self, host: str) -> bool:
        """Whether some path on ``host`` belongs to a provider (decided before TLS)."""
        return next(iter(self._candidates(host)), None) is not None
