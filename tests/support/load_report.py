"""A ``load`` section in pytest's terminal summary with the load test's figures.

The load test puts one JSON line into its report's user properties under
``LOAD_PROPERTY``; xdist carries those back from its workers, so the section
appears in the controlling process, under ``-q`` too. The process that prints
must have this plugin: tests/adversarial/conftest.py registers it when that
folder is collected in-process; a run of all of ``tests`` under xdist needs it
named in tests/conftest.py (``pytest_plugins``), since xdist's controller
never loads the adversarial conftest.
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
