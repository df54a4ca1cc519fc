"""The local, Entra-like token authority (`python -m local.emulators.identity`) and both sides of its tokens: the
HTTPS server (`authority.py`), the OAuth 2.0 / OIDC protocol (`oauth.py`), certificate credentials and managed
identity (`credentials.py`), its TLS certificate and signing key (`keys.py`), and getting a token with MSAL or
validating one inside an emulator (`tokens.py`). Never deployed.
"""
