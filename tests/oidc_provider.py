"""A fake OpenID Connect provider for the tests: a small ASGI app the tests start.

It serves discovery, a JWKS, an authorization endpoint that redirects back with a code
(or an error), and a token endpoint that checks the code, the PKCE verifier and the
client's credentials, then issues an RS256 ID token signed with a key made here. The
tests steer it: other claims or headers in the next ID token, a 500 or a slow answer
from the token endpoint, key rotation.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk, jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

ISSUER = "https://idp.example.test"
CLIENT_ID = "techtribe-web.apps.example.test"
CLIENT_SECRET = "fake-client-secret-0123456789"


@dataclass
class SigningKey:
    kid: str
    pem: str
    public_jwk: dict[str, Any]

    @classmethod
    def generate(cls) -> SigningKey:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        kid = uuid.uuid4().hex[:16]
        public = jwk.construct(pem, "RS256").public_key().to_dict()
        return cls(kid=kid, pem=pem, public_jwk={**public, "kid": kid, "use": "sig"})


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str
    used: bool = False


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class FakeProvider:
    issuer: str = ISSUER
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    key: SigningKey = field(default_factory=SigningKey.generate)
    # Keys served in the JWKS (the signing key and, after a rotation, the old one).
    published: list[SigningKey] = field(default_factory=list)
    # The person who signs in.
    subject: str = field(default_factory=lambda: uuid.uuid4().hex)
    email: str = field(default_factory=lambda: f"google-{uuid.uuid4().hex[:10]}@example.com")
    email_verified: Any = True
    name: str = "Grace Hopper"
    # Steering: merged into the next ID token's claims / header; None values remove.
    claims: dict[str, Any] = field(default_factory=dict)
    header: dict[str, Any] = field(default_factory=dict)
    # Replaces the whole ID token (e.g. alg "none"), given the claims it would carry.
    forge: Any = None
    authorize_error: str | None = None
    token_status: int = 200
    token_delay_seconds: float = 0.0
    # The token endpoint's answer leaves out the access token (its at_hash stays).
    omit_access_token: bool = False
    grants: dict[str, Grant] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.published = self.published or [self.key]
        self.app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
            ]
        )

    def rotate_key(self, *, keep_old: bool = True) -> SigningKey:
        """Sign with a new key (new `kid`) from now on, publishing it in the JWKS."""
        self.key = SigningKey.generate()
        self.published = [self.key, *self.published] if keep_old else [self.key]
        return self.key

    def _count(self, name: str) -> None:
        self.hits[name] = self.hits.get(name, 0) + 1

    async def discovery(self, request: Request) -> Response:
        self._count("discovery")
        base = self.issuer.rstrip("/")
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{base}/authorize",
                "token_endpoint": f"{base}/token",
                "jwks_uri": f"{base}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            }
        )

    async def jwks(self, request: Request) -> Response:
        self._count("jwks")
        return JSONResponse({"keys": [key.public_jwk for key in self.published]})

    async def authorize(self, request: Request) -> Response:
        self._count("authorize")
        query = request.query_params
        redirect_uri = query["redirect_uri"]
        if self.authorize_error:
            back = {"error": self.authorize_error, "state": query["state"]}
            return RedirectResponse(f"{redirect_uri}?{urlencode(back)}", status_code=302)
        assert query["client_id"] == self.client_id
        assert query["response_type"] == "code"
        assert query["code_challenge_method"] == "S256"
        assert "openid" in query["scope"].split()
        code = secrets.token_urlsafe(24)
        self.grants[code] = Grant(
            client_id=query["client_id"],
            redirect_uri=redirect_uri,
            code_challenge=query["code_challenge"],
            nonce=query["nonce"],
        )
        back = {"code": code, "state": query["state"]}
        return RedirectResponse(f"{redirect_uri}?{urlencode(back)}", status_code=302)

    def _client_authenticated(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        return client_id == self.client_id and secret == self.client_secret

    async def token(self, request: Request) -> Response:
        self._count("token")
        if self.token_delay_seconds:
            await asyncio.sleep(self.token_delay_seconds)
        if self.token_status != 200:
            return JSONResponse({"error": "server_error"}, status_code=self.token_status)
        if not self._client_authenticated(request):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        form = await request.form()
        grant = self.grants.get(str(form.get("code")))
        if form.get("grant_type") != "authorization_code" or grant is None or grant.used:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        grant.used = True
        verifier = str(form.get("code_verifier", ""))
        if b64url(hashlib.sha256(verifier.encode()).digest()) != grant.code_challenge:
            return JSONResponse({"error": "invalid_grant", "d": "PKCE"}, status_code=400)
        if form.get("redirect_uri") != grant.redirect_uri:
            return JSONResponse({"error": "invalid_grant", "d": "redirect_uri"}, status_code=400)
        access_token = secrets.token_urlsafe(32)
        answer = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 3599,
            "scope": "openid email profile",
            "id_token": self.id_token(nonce=grant.nonce, access_token=access_token),
        }
        if self.omit_access_token:
            del answer["access_token"]
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    def id_token(self, *, nonce: str, access_token: str) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "azp": self.client_id,
            "sub": self.subject,
            "email": self.email,
            "email_verified": self.email_verified,
            "name": self.name,
            "iat": now,
            "exp": now + 3600,
            "nonce": nonce,
        }
        for name, value in self.claims.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        if self.forge is not None:
            return str(self.forge(self, claims))
        headers = {"kid": self.key.kid, **self.header}
        # python-jose adds at_hash from the access token, as Google does.
        return str(
            jwt.encode(
                claims, self.key.pem, algorithm="RS256", headers=headers, access_token=access_token
            )
        )


def unsigned_token(claims: dict[str, Any]) -> str:
    """`alg: none`: a JWT with no signature at all."""
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}."
