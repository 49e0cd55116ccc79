"""``authsome doctor``: one ✔/✖ line per check, with the fix; exit 0 only if all pass."""

from __future__ import annotations

import sys

import click

from authsome.cli.output import OutputMode, emit_json, json_option, print_error, say, style
from authsome.home import HomeLayout

PASS, FAIL = "✔", "✖"


@click.command("doctor")
@json_option
def doctor(as_json: bool) -> None:
    """Check this home, the daemon and the vault; say how to fix problems.

    Exits 0 when every check passes and 1 otherwise. With --json the report
    of a failing run also has "error" and "message", like any failure.
    """
    from authsome.cli.output import spinner
    from authsome.client.doctor import run_checks

    with spinner("checking"):
        checks = run_checks(HomeLayout.from_env())
    healthy = all(check.ok for check in checks)
    failed = ", ".join(check.name for check in checks if not check.ok)
    if as_json:
        report: dict[str, object] = {"ok": healthy, "checks": [vars(check) for check in checks]}
        if not healthy:  # what every failing command's JSON has, beside the report
            report |= {"error": "checks_failed", "message": f"failed checks: {failed}"}
        emit_json(report)
    else:
        for check in checks:
            mark = style(PASS, fg="green") if check.ok else style(FAIL, fg="red", bold=True)
            say(f"{mark} {check.name}: {check.detail}")
            if not check.ok and check.fix:
                say(f"    fix: {check.fix}")
        if not healthy and OutputMode.quiet:  # the one line any failure leaves
            print_error("checks_failed", f"failed checks: {failed}", "authsome doctor")
    if not healthy:
        sys.exit(1)


COMMANDS = [doctor]
