"""The interview service's calls to the JupyterHub REST API (with the service's own token)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest


class HubAPIError(Exception):
    """The hub refused or failed a call; the message names the call and the hub's answer."""


class HubClient:
    """Stop servers, grant and revoke shares, remove candidate users."""

    def __init__(self, api_url: str | None = None, token: str | None = None):
        self.api_url = (api_url or os.environ["JUPYTERHUB_API_URL"]).rstrip("/")
        self.token = token or os.environ["JUPYTERHUB_API_TOKEN"]

    async def request(self, method: str, path: str, body=None, *, allow=(200, 201, 202, 204)) -> tuple[int, object]:
        request = HTTPRequest(
            f"{self.api_url}/{path.lstrip('/')}",
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
            body=json.dumps(body) if body is not None else (b"" if method in ("POST", "PATCH", "PUT") else None),
            allow_nonstandard_methods=True,
            request_timeout=60,
        )
        try:
            response = await AsyncHTTPClient().fetch(request, raise_error=False)
        except (OSError, HTTPClientError) as error:
            raise HubAPIError(f"{method} {path}: the hub did not answer ({error})") from None
        if response.code not in allow:
            raise HubAPIError(f"{method} {path}: HTTP {response.code} {response.body[:300]!r}")
        payload = json.loads(response.body) if response.body else None
        return response.code, payload

    async def user(self, name: str) -> dict | None:
        code, model = await self.request("GET", f"users/{quote(name)}", allow=(200, 404))
        return model if code == 200 else None

    async def server_url(self, name: str) -> str | None:
        """Where the user's default server is reached: a full URL on its own origin under
        ``subdomain_host``, else the path under the hub's; None when it is not running."""
        model = await self.user(name)
        server = ((model or {}).get("servers") or {}).get("") or {}
        return server.get("url") if server.get("ready") else None

    async def identify_token(self, token: str) -> dict | None:
        """The user model of whoever owns ``token`` (None for an invalid token)."""
        request = HTTPRequest(f"{self.api_url}/user", headers={"Authorization": f"token {token}"}, request_timeout=30)
        response = await AsyncHTTPClient().fetch(request, raise_error=False)
        if response.code != 200:
            return None
        return json.loads(response.body)

    async def stop_server(self, name: str, timeout: float = 120) -> None:
        """Stop the user's default server and wait until the hub says it is gone."""
        await self.request("DELETE", f"users/{quote(name)}/server", allow=(202, 204, 400, 404))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = await self.user(name)
            server = (model or {}).get("servers", {}).get("", None)
            if not server or (not server.get("ready") and not server.get("pending")):
                return
            await asyncio.sleep(0.5)
        raise HubAPIError(f"{name}'s server did not stop within {timeout:.0f} s")

    async def share_server(self, owner: str, with_user: str) -> None:
        await self.request("POST", f"shares/{quote(owner)}/", {"user": with_user})

    async def revoke_shares(self, owner: str) -> None:
        await self.request("DELETE", f"shares/{quote(owner)}/", allow=(200, 204, 404))

    async def delete_user(self, name: str) -> None:
        await self.request("DELETE", f"users/{quote(name)}", allow=(204, 404))
