"""How the client verifies a daemon reached over https (a hosted daemon, DESIGN §8).

Always verified. The trust roots are ``AUTHSOME_CA_BUNDLE`` if set, else the
standard ``SSL_CERT_FILE``, else the default (certifi) roots; a private CA
behind the team's reverse proxy goes into one of those files. The client
ignores proxy variables for its own calls, so the bundle is read here.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

from authsome.errors import InvalidInput

CA_BUNDLE_ENV = "AUTHSOME_CA_BUNDLE"


def daemon_verify(url: str) -> ssl.SSLContext | bool:
    """``verify=`` for the client's httpx clients of the daemon at ``url``.

    A plain ``http://`` daemon (the local one) never speaks TLS, so its
    clients get a context that trusts nothing, without reading any roots:
    loading them costs about 25 ms per client, a tenth of `authsome run`.
    """
    if not url.lower().startswith("https://"):
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, against no roots
    bundle = os.environ.get(CA_BUNDLE_ENV) or os.environ.get("SSL_CERT_FILE")
    if not bundle:
        return True
    path = Path(bundle).expanduser()
    if not path.is_file():
        raise InvalidInput(
            f"the CA bundle {path} does not exist",
            hint=f"point {CA_BUNDLE_ENV} (or SSL_CERT_FILE) at a PEM file",
        )
    try:
        return ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, ValueError) as exc:
        raise InvalidInput(f"the CA bundle {path} is not a PEM certificate file") from exc
