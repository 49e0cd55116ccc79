"""Every provider a deployment knows: the bundled files plus its custom ones.

Bundled definitions ship as package data (``providers/bundled/*.json``), are
read once per process and are read-only. Custom definitions are stored per
deployment by the daemon and handed in here. A catalogue is immutable:
``with_custom`` returns a new one, whose matcher is compiled once, up front.

Example::

    >>> catalogue = ProviderCatalogue.load(custom=stored_definitions)
    >>> catalogue.get("openai").api_key.env_var
    'OPENAI_API_KEY'
    >>> catalogue.matcher.match("api.openai.com", "/v1/models")
    'openai'
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib import resources

from authsome.errors import InvalidProvider, OperationNotAllowed, ProviderExists, ProviderNotFound
from authsome.providers.matching import ProviderMatcher
from authsome.providers.schema import ProviderDefinition, load_provider_json

_BUNDLED_PACKAGE = "authsome.providers"
_BUNDLED_DIR = "bundled"


@functools.cache
def bundled_providers() -> tuple[ProviderDefinition, ...]:
    """The definitions shipped with Authsome, read once per process, sorted by name."""
    found: list[ProviderDefinition] = []
    for item in resources.files(_BUNDLED_PACKAGE).joinpath(_BUNDLED_DIR).iterdir():
        if not item.name.endswith(".json"):
            continue
        source = f"bundled/{item.name}"
        defn = load_provider_json(item.read_bytes(), source=source)
        if f"{defn.name}.json" != item.name:
            raise InvalidProvider(f"{source}: name: '{defn.name}' does not match the file name")
        found.append(defn)
    return tuple(sorted(found, key=lambda d: d.name))


class ProviderCatalogue:
    """An immutable set of providers with unique names and a compiled matcher.

    A custom definition may replace a bundled one of the same name (it was
    registered with ``force``); ``is_bundled`` then answers ``False``.
    """

    def __init__(
        self, bundled: Iterable[ProviderDefinition], custom: Iterable[ProviderDefinition]
    ) -> None:
        self._bundled = {d.name: d for d in bundled}
        self._custom: dict[str, ProviderDefinition] = {}
        for defn in custom:
            if defn.name in self._custom:
                raise InvalidProvider(f"custom provider '{defn.name}' is defined twice")
            self._custom[defn.name] = defn
        self._by_name = {**self._bundled, **self._custom}
        self._matcher = ProviderMatcher(self._by_name.values())

    @classmethod
    def load(cls, custom: Iterable[ProviderDefinition] = ()) -> ProviderCatalogue:
        """The bundled providers, overlaid with ``custom`` ones (stored by the daemon)."""
        return cls(bundled_providers(), custom)

    def get(self, name: str) -> ProviderDefinition:
        """The definition named ``name``; :class:`ProviderNotFound` if there is none."""
        try:
            return self._by_name[name]
        except KeyError:
            raise ProviderNotFound(
                f"no provider named {name!r}",
                hint="`authsome provider list` shows the providers you can use",
            ) from None

    def find(self, name: str) -> ProviderDefinition | None:
        """The definition named ``name``, or ``None``."""
        return self._by_name.get(name)

    def all(self) -> list[ProviderDefinition]:
        """Every provider in effect, sorted by name."""
        return [self._by_name[name] for name in sorted(self._by_name)]

    def is_bundled(self, name: str) -> bool:
        """Whether ``name`` is a shipped, read-only definition not replaced by a custom one."""
        return name in self._bundled and name not in self._custom

    def overrides_bundled(self, name: str) -> bool:
        """Whether ``name`` is a custom definition standing in for a bundled one."""
        return name in self._bundled and name in self._custom

    @property
    def matcher(self) -> ProviderMatcher:
        """Host/path matcher over every provider in effect, compiled at construction."""
        return self._matcher

    def with_custom(self, defn: ProviderDefinition, *, force: bool = False) -> ProviderCatalogue:
        """A new catalogue that also holds ``defn``.

        Replacing an existing provider, bundled or custom, needs ``force``,
        else :class:`ProviderExists`. A host pattern that another provider
        already claims raises :class:`InvalidProvider`.
        """
        if defn.name in self._by_name and not force:
            kind = "bundled" if self.is_bundled(defn.name) else "custom"
            raise ProviderExists(
                f"a {kind} provider named '{defn.name}' already exists",
                hint="pass --force to replace it",
            )
        custom = {**self._custom, defn.name: defn}
        return ProviderCatalogue(self._bundled.values(), custom.values())

    def without_custom(self, name: str) -> ProviderCatalogue:
        """A new catalogue without the custom provider ``name``.

        A bundled provider of that name, if any, takes effect again. Bundled
        providers themselves cannot be removed (:class:`OperationNotAllowed`);
        an unknown name is :class:`ProviderNotFound`.
        """
        if name not in self._custom:
            if name in self._bundled:
                raise OperationNotAllowed(
                    f"'{name}' is a bundled provider; only custom providers can be removed"
                )
            self.get(name)  # raises ProviderNotFound with the usual hint
        custom = {key: defn for key, defn in self._custom.items() if key != name}
        return ProviderCatalogue(self._bundled.values(), custom.values())
