"""Who may do what, and proof of it: token verification, roles and authority, e-signatures.

* :mod:`hub.auth.tokens`      OIDC bearer tokens (JWT) verified against the provider's JWKS
* :mod:`hub.auth.devidp`      the development identity provider (``V2V_ENV=dev`` only)
* :mod:`hub.auth.authority`   the authority policy: which role reads, ingests, commands what
* :mod:`hub.auth.signatures`  sealed electronic signatures bound to one case version
* :mod:`hub.auth.verify`      signatures checked against the case versions they sign
* :mod:`hub.auth.gate`        the HTTP edge's decisions (401 / 403 / 409), for every surface
* :mod:`hub.auth.http`        the aiohttp middleware that puts the gate before every route

Nothing is imported here, so the case layer can use the signature model without the rest.
"""
