"""``authsome vault rotate-key|backend|backup|restore`` (admins).

Rotation, moving the key and backups run inside the daemon, the only process
that opens the vault. Restore replaces the daemon's database, so it runs
here, with the daemon stopped, through the daemon's own restore code.
"""

from __future__ import annotations

from pathlib import Path

import click

from authsome.cli.output import emit_json, json_option, say
from authsome.cli.secrets_input import read_secret


@click.group("vault")
def vault() -> None:
    """Rotate, move, back up and restore the master key and the store."""


@vault.command("rotate-key")
@json_option
def rotate_key(as_json: bool) -> None:
    """Replace the master key; every vault's data key is re-wrapped at once.

    The replaced key is kept (master.key.old) until you remove it; an earlier
    one found there is kept as master.key.old.<UTC time>, never overwritten. A
    key given in AUTHSOME_MASTER_KEY cannot be rotated here: the command says how.
    """
    from authsome.client.connect import open_client

    with open_client() as client:
        result = client.rotate_master_key()
    if as_json:
        emit_json(result)
        return
    say(f"master key rotated: {result['vaults']} vault(s) re-wrapped")
    say(f"new key: {result['key_location']}")
    say(f"old key kept in: {result['old_key_location']} (remove it once you no longer need it)")
    if result.get("earlier_old_key_location"):
        say(
            "the key the previous rotation retired is kept in: "
            f"{result['earlier_old_key_location']} (it opens backups made before that rotation)"
        )


@vault.command("backend")
@click.argument("backend", type=click.Choice(["keyring", "file", "env"]))
@json_option
def backend(backend: str, as_json: bool) -> None:
    """Move the master key to the OS keyring or the 0600 key file.

    The key is written to its new place and checked before the old copy is
    removed. `env` never prints the key: it explains how to start the daemon
    with AUTHSOME_MASTER_KEY; run it again once the daemon runs that way to
    remove the stored copy.
    """
    from authsome.client.connect import open_client

    with open_client() as client:
        result = client.set_key_backend(backend)
    if as_json:
        emit_json(result)
    else:
        say(result["message"])


@vault.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--include-key",
    is_flag=True,
    help="Also store the master key, sealed with a passphrase (asked for, or stdin).",
)
@click.option("--passphrase-stdin", is_flag=True, help="Read the passphrase from stdin.")
@click.option("--overwrite", is_flag=True, help="Replace FILE if it exists.")
@json_option
def backup(
    file: Path, include_key: bool, passphrase_stdin: bool, overwrite: bool, as_json: bool
) -> None:
    """Write a consistent copy of the store to FILE (mode 0600).

    Without --include-key the backup is useless without the master key, so
    keep the key somewhere else too.
    """
    from authsome.client.connect import open_client
    from authsome.errors import InvalidInput
    from authsome.home import write_private_file

    if file.exists() and not overwrite:
        raise InvalidInput(f"{file} exists", hint="add --overwrite to replace it")
    passphrase = _new_passphrase(passphrase_stdin) if include_key else None
    with open_client() as client:
        data = client.backup_vault(include_key=include_key, passphrase=passphrase)
    write_private_file(file.absolute(), data)
    if as_json:
        emit_json({"file": str(file), "bytes": len(data), "includes_key": include_key})
    else:
        say(
            f"backup written to {file} ({len(data)} bytes"
            + (", key included)" if include_key else ", without the key)")
        )


@vault.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a store that already holds data.")
@click.option("--passphrase-stdin", is_flag=True, help="Read the passphrase from stdin.")
@json_option
def restore(file: Path, force: bool, passphrase_stdin: bool, as_json: bool) -> None:
    """Replace this home's store with a backup (stop the daemon first)."""
    from authsome.config import ServerSettings
    from authsome.daemon.restore import restore_backup
    from authsome.home import HomeLayout

    settings = ServerSettings(home=HomeLayout.from_env().root)
    result = restore_backup(
        settings,
        file.read_bytes(),
        passphrase=lambda: read_secret(
            "Backup passphrase", from_stdin=passphrase_stdin, flag="--passphrase-stdin"
        ),
        force=force,
    )
    body = {
        "database": str(result.database),
        "key_changed": result.key_changed,
        "replaced_copy": str(result.replaced_copy) if result.replaced_copy else None,
    }
    if as_json:
        emit_json(body)
        return
    say(f"restored {file} into {result.database}")
    if result.replaced_copy:
        say(f"the replaced database is kept at {result.replaced_copy}")
    if result.key_changed:
        say("the backup's master key is now this home's key (the previous one is kept as .old)")
    say("start the daemon: authsome daemon start")


def _new_passphrase(from_stdin: bool) -> str:
    from authsome.errors import InvalidInput

    first = read_secret("Backup passphrase", from_stdin=from_stdin, flag="--passphrase-stdin")
    if not from_stdin:
        again = read_secret("Repeat the passphrase", from_stdin=False, flag="--passphrase-stdin")
        if again != first:
            raise InvalidInput("the passphrases differ")
    return first


COMMANDS = [vault]
