"""The hazmat room: the only package that imports ``cryptography.hazmat``.

It offers recipes with no algorithm choices left to the caller:

- ``envelope``: seal/open a vault field, wrap/unwrap a vault's data key, check
  the master key (AES-256-GCM, versioned blobs, record-naming associated data);
- ``masterkey``: find or create the daemon's master key;
- ``identity_keys``: an agent's Ed25519 key, its JWK, thumbprint and did:key;
- ``pop``: sign and verify proof-of-possession JWTs (DPoP format);
- ``handles``: random human-friendly identity names.

Verification raises and never returns a bool; time checks take an explicit
``now``. Nothing is re-exported here, so importing one module (the client
imports only ``pop``) does not load the others.
"""
