"""Reading a grant (all providers or a list; reveal) from the claim and agent forms."""

from __future__ import annotations

from authsome.daemon.services.grants import Grant
from authsome.daemon.web.security import Form
from authsome.errors import InvalidInput
from authsome.providers.catalogue import ProviderCatalogue


def grant_from_form(form: Form, catalogue: ProviderCatalogue) -> Grant:
    """``grant=all``, or ``grant=list`` with ``providers`` ticked; ``reveal`` only if ticked."""
    mode = form.get("grant", "all")
    if mode not in {"all", "list"}:
        raise InvalidInput("choose all providers or a list")
    reveal = form.flag("reveal")
    if mode == "all":
        return Grant(providers=None, reveal=reveal)
    chosen = set(form.getall("providers"))
    unknown = sorted(name for name in chosen if catalogue.find(name) is None)
    if unknown:
        raise InvalidInput(f"unknown providers: {', '.join(unknown[:5])}")
    return Grant(providers=frozenset(chosen), reveal=reveal)
