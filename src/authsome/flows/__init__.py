"""OAuth 2 flows: the protocol steps, each an async function over an httpx client.

- ``http`` — :class:`OutboundHttp`, the factory of the ``httpx.AsyncClient``
  every flow receives, and the translation of httpx errors.
- ``tokens`` — client authentication, token requests and responses.
- ``pkce`` — authorization code with PKCE (RFC 7636, RFC 8252, RFC 9207).
- ``device_code`` — device authorization (RFC 8628).
- ``dcr`` — discovery (RFC 8414, OpenID, RFC 9728) and registration (RFC 7591).
- ``refresh`` — refresh tokens and when (RFC 6749 §6).
- ``revoke`` — token revocation (RFC 7009).

Flows hold no state and touch no database: the daemon's services store
what they return.
"""
