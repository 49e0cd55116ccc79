"""``authsome doctor``: one ✔/✖ line per check, with the fix; exit 0 only if all pass."""

from __future__ import annotations

import sys

import click

from authsome.cli.output import OutputMode, emit_json, json_option, say, style
from authsome.home import HomeLayout

PASS, FAIL = "✔", "✖"


@click.command("doctor")
@json_option
def doctor(as_json: bool) -> None:
    """Check this home, the daemon and the vault; say how to fix problems.

    Exits 0 when every check passes and 1 otherwise.
    """
    from authsome.cli.output import spinner
    from authsome.client.doctor import run_checks

    with spinner("checking"):
        checks = run_checks(HomeLayout.from_env())
    healthy = all(check.ok for check in checks)
    if as_json:
        emit_json({"ok": healthy, "checks": [vars(check) for check in checks]})
    else:
        for check in checks:
            mark = style(PASS, fg="green") if check.ok else style(FAIL, fg="red", bold=True)
            say(f"{mark} {check.name}: {check.detail}")
            if not check.ok and check.fix:
                say(f"    fix: {check.fix}")
        if not healthy and OutputMode.quiet:
            failed = ", ".join(check.name for check in checks if not check.ok)
            click.echo(f"doctor: failed checks: {failed}", err=True)
    if not healthy:
        sys.exit(1)


COMMANDS = [doctor]
