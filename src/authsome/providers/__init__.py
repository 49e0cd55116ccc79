"""Provider definitions: how to log in to a service and where its API lives.

- ``schema``: the JSON file format (DESIGN §1) as pydantic models, and
  ``load_provider_json`` whose errors name the offending field.
- ``matching``: ``api_url`` entries as host patterns, and ``ProviderMatcher``,
  which the proxy asks which provider owns a host and path.
- ``catalogue``: the bundled definitions (``bundled/*.json``, read-only) plus a
  deployment's custom ones, with one matcher compiled per change.
"""
