"""``python -m authsome`` runs the CLI (the daemon launcher relies on it)."""

from authsome.cli.main import main

main()
