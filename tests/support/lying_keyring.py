"""A keyring backend that keeps what it is given but reads back another key.

For tests of ``authsome vault backend keyring`` and rotation inside a keyring:
select it in a daemon's environment with
``PYTHON_KEYRING_BACKEND=tests.support.lying_keyring.LyingKeyring`` (and the
repository root on ``PYTHONPATH``). Entries live in a keyrings.alt plain-text
file under ``XDG_DATA_HOME``, so an honest ``PlaintextKeyring`` reads the same
entries truthfully. ``LYING_KEYRING_ACCOUNTS`` limits the lies to accounts
ending with that text (unset: every account).
"""

from __future__ import annotations

import base64
import os

from keyrings.alt.file import PlaintextKeyring

ACCOUNTS_ENV = "LYING_KEYRING_ACCOUNTS"
#: What every lied-about entry reads as: a well-formed key that is not the one written.
OTHER_KEY = base64.b64encode(b"\x07" * 32).decode("ascii")


class LyingKeyring(PlaintextKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        stored: str | None = super().get_password(service, username)
        if stored is None or not username.endswith(os.environ.get(ACCOUNTS_ENV, "")):
            return stored
        return OTHER_KEY
