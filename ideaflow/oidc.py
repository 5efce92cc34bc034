"""Single sign-on by OpenID Connect (authorization code with PKCE), through Authlib.

A municipality's identity provider (Entra ID, or an OIDC bridge in front of KOMBIT's Context Handler
or MitID) vouches for the person; ideaflow matches them by the e-mail claim to a person it knows.

The issuer is configured (IDEAFLOW_OIDC_ISSUER) and checked against the one its discovery document
names: OIDC Discovery requires them to be identical, and Entra ID's multi-tenant `common` endpoint
publishes a placeholder issuer (`{tenantid}`) that no ID token carries, so configuring it fails
here, at once and with that reason, rather than on every sign-in. The ID token is then validated by
Authlib against the discovery's issuer and keys: signature, issuer, audience, expiry, nonce and
the access token's hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.base_client.sync_app import BaseApp, OAuth2Mixin
from authlib.integrations.base_client.sync_openid import OpenIDMixin
from authlib.integrations.requests_client import OAuth2Session
from joserfc.errors import JoseError

from ideaflow.signin import NewSession, SignIn, SingleSignOnFailed


class _Provider(OAuth2Mixin, OpenIDMixin, BaseApp):
    """Authlib's framework-independent OIDC client; ideaflow keeps the state itself (in a table)."""

    client_cls = OAuth2Session


@dataclass(frozen=True, slots=True)
class Redirect:
    """Where to send the browser, and the state to remember in its cookie."""

    url: str
    state: str


class SingleSignOn:
    def __init__(self, signin: SignIn, *, issuer: str, client_id: str, client_secret: str, public_url: str,
                 email_claim: str = "email", timeout_s: float = 10.0) -> None:
        self.signin = signin
        self.issuer = issuer
        self.email_claim = email_claim
        self.callback = public_url.rstrip("/") + "/auth/oidc/callback"
        self._provider = _Provider(
            None, name="oidc", client_id=client_id, client_secret=client_secret,
            server_metadata_url=issuer.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256", "default_timeout": 10},
        )

    def _metadata(self) -> dict:
        try:
            metadata = self._provider.load_server_metadata()
        except (requests.RequestException, ValueError) as error:
            raise SingleSignOnFailed(f"cannot read the identity provider's discovery document: {error}") from error
        published = metadata.get("issuer", "")
        if published.rstrip("/") != self.issuer.rstrip("/"):
            raise SingleSignOnFailed(f"the identity provider's discovery names issuer {published!r}, not the "
                                     f"configured {self.issuer!r} (Entra ID: use the tenant's issuer, not 'common')")
        return metadata

    def _from_userinfo(self, token: dict, claims: dict) -> dict:
        """The ID token's claims with the UserInfo endpoint's: in the code flow a provider may send the
        `email` scope's claims only from there (OIDC Core 5.4). Its `sub` must be the ID token's (5.3.2)."""
        info = self._provider.userinfo(token=token)
        if info.get("sub") != claims.get("sub"):
            raise SingleSignOnFailed("the UserInfo endpoint answered for another subject than the ID token's")
        return {**info, **claims}

    def start(self, next_path: str | None, now: datetime) -> Redirect:
        """The identity provider's sign-in page for a new sign-on (its state, nonce and PKCE verifier kept)."""
        self._metadata()
        created = self._provider.create_authorization_url(redirect_uri=self.callback)
        self.signin.begin_single_sign_on(created["state"], created["nonce"], created["code_verifier"], next_path, now)
        return Redirect(created["url"], created["state"])

    def finish(self, *, code: str, state: str, browser_state: str | None, now: datetime,
               replacing: str | None = None) -> NewSession | None:
        """Redeem the provider's answer: a session for the person the ID token names, or None when
        nobody here has that address. Raises SingleSignOnFailed for anything else."""
        if not browser_state or browser_state != state:
            raise SingleSignOnFailed("the sign-on was not started in this browser (state mismatch)")
        pending = self.signin.pending_single_sign_on(state, now)
        if pending is None:
            raise SingleSignOnFailed("the sign-on is unknown, was already used, or took too long")
        self._metadata()
        try:
            token = self._provider.fetch_access_token(redirect_uri=self.callback, code=code,
                                                      code_verifier=pending.code_verifier)
            claims = self._provider.parse_id_token(token, nonce=pending.nonce)
            if claims is None:
                raise SingleSignOnFailed("the identity provider sent no ID token")
            if self.email_claim not in claims:
                claims = self._from_userinfo(token, claims)
        except (OAuthError, JoseError, requests.RequestException, ValueError, KeyError) as error:
            raise SingleSignOnFailed(f"the identity provider's answer was not accepted: {error}") from error
        email = claims.get(self.email_claim)
        if not isinstance(email, str) or "@" not in email:
            raise SingleSignOnFailed(f"the ID token has no address in its {self.email_claim!r} claim")
        if claims.get("email_verified") is False and self.email_claim == "email":
            raise SingleSignOnFailed("the identity provider says the address is not verified")
        return self.signin.sign_in_verified(email, now, pending.next_path, replacing)
