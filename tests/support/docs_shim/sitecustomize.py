"""Loaded at start-up by documentation-example subprocesses (see test_library_docs.py)."""

from tests.support.name_resolution import route_names_from_env

route_names_from_env()
