"""A ``load`` section in pytest's terminal summary with the load test's figures.

The load test puts one JSON line into its report's user properties under
``LOAD_PROPERTY``; xdist carries those back from its workers, so the section
appears in the controlling process, under ``-q`` too. tests/conftest.py names
this plugin (``pytest_plugins``), so that process has it under xdist as well.
"""

from __future__ import annotations

import pytest

LOAD_PROPERTY = "load_figures"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = [
        f"{report.nodeid}: {value}"
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for name, value in getattr(report, "user_properties", ())
        if name == LOAD_PROPERTY
    ]
    if lines:
        terminalreporter.write_sep("-", "load")
        for line in lines:
            terminalreporter.write_line(line)
