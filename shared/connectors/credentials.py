"""An azure-core `TokenCredential` over our MSAL managed-identity provider, for Table Storage and Service Bus.

Why not azure-identity: the design card fixes the packages (msal does the token work already); the Azure SDKs only
need an object with `get_token(*scopes)` returning an `AccessToken`.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from azure.core.credentials import AccessToken

from shared.connectors.auth import ManagedIdentityTokenProvider


class ManagedIdentityCredential:
    """One MSAL provider per resource (`https://storage.azure.com`, `https://servicebus.azure.net`)."""

    def __init__(self, client_id: str | None = None) -> None:
        self.client_id = client_id
        self._providers: dict[str, ManagedIdentityTokenProvider] = {}
        self._lock = threading.Lock()

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        resource = scopes[0].removesuffix("/.default") if scopes else ""
        with self._lock:
            provider = self._providers.get(resource)
            if provider is None:
                provider = self._providers[resource] = ManagedIdentityTokenProvider(resource, client_id=self.client_id)
        # the provider refreshes 5 minutes before expiry on its own; tell the SDK to ask again well before that
        return AccessToken(provider.get_token(), int(time.time()) + 600)
