"""A tiny fake of JupyterHub's identity provider: each token names one user.

Loaded by the test servers (``ServerApp.identity_provider_class``) so a test can be the
candidate (``tok-alice``, the server's owner) or an interviewer (``tok-bob``) on the same
server, as under JupyterHub, without running a hub.
"""

from jupyter_server.auth.identity import IdentityProvider, User
from traitlets import Dict


class TokenPerUserIdentityProvider(IdentityProvider):
    user_tokens = Dict(help="token -> user name").tag(config=True)

    async def get_user_token(self, handler):
        name = self.user_tokens.get(self.get_token(handler) or "")
        return User(username=name, name=name, display_name=name) if name else None
