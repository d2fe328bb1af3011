"""Settings: one place, read from the environment and `.env`, with documented defaults."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Literal

from fastapi import Depends, Request
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Good enough for a laptop, refused in production (see `Settings._refuse_dev_secret`).
DEV_JWT_SECRET = "dev-insecure-change-me-0123456789abcdef"  # noqa: S105


class OIDCProviderSettings(BaseModel):
    """One OpenID Connect provider: its issuer (discovery is read from there) and our client."""

    issuer: str
    client_id: str
    client_secret: SecretStr
    # Extra accepted `iss` values, e.g. Google's scheme-less "accounts.google.com".
    issuer_aliases: list[str] = Field(default_factory=list)
    # The name on the sign-in button (`GET /auth/providers`); default: the entry's name.
    display_name: str | None = None


class Settings(BaseSettings):
    """Every setting of the service; the defaults run the embedded mode (SQLite, no Redis)."""

    # env_ignore_empty: `JWT_SECRET=` in a .env means "not set", never an empty key.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    environment: Literal["development", "production", "test"] = Field(
        default="development",
        description="`development`, `production` or `test`. Production refuses the development "
        "`JWT_SECRET`.",
    )
    database_url: str = Field(
        default="sqlite+aiosqlite:///./techtribe.db",
        description="`postgresql+asyncpg://user:pass@host:5432/db` or "
        "`sqlite+aiosqlite:///path`; plain `postgres://` and `postgresql://` URLs are mapped "
        "to asyncpg. The default is a SQLite file in the working directory.",
    )
    database_pool_size: int = Field(
        default=10,
        ge=1,
        description="Connections kept per process on PostgreSQL (as many again may overflow). "
        "Size it to the most requests one worker may have in flight: each request past it "
        "opens and closes its own connection.",
    )
    database_echo: bool = Field(default=False, description="Log every SQL statement.")
    database_pool_pre_ping: bool = Field(
        default=False,
        description="A round trip (`SELECT 1`) before each use of a pooled connection. Off by "
        "default: a connection the server closed is noticed for free; turn it on where "
        "connections can die without the server saying so (a proxy, a NAT timeout).",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis (e.g. `redis://localhost:6379/0`) for the login throttle's shared "
        "counters, `/readyz` and the e-mail job queue: with it set, the API only queues "
        "e-mails and `techtribe worker` sends them. Unset: in-memory counters, and each API "
        "process sends e-mails itself (the embedded mode).",
    )
    redis_key_prefix: str = Field(
        default="techtribe",
        description="Prefix of every Redis key; the job queue is named `<prefix>-email`.",
    )
    redis_timeout_seconds: float = Field(
        default=1.0,
        gt=0,
        le=30,
        description="Limit of each Redis connect and reply: a Redis that hangs costs a request "
        "this much, then the request goes on without it (login throttle per process, e-mail "
        "queued later).",
    )

    jwt_secret: SecretStr = Field(
        default=SecretStr(DEV_JWT_SECRET),
        description='HMAC key of the tokens, 32+ characters (`python -c "import secrets; '
        'print(secrets.token_urlsafe(48))"`). The default is a public development value, '
        "refused in production; an empty value counts as unset.",
    )
    data_encryption_key: SecretStr | None = Field(
        default=None,
        description="Key (32+ characters) that encrypts the secret parts of queued e-mails "
        "(one-time links), through HKDF. Unset: derived from `JWT_SECRET`.",
    )
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = Field(
        default="HS256", description="HMAC algorithm of the tokens."
    )
    access_token_minutes: int = Field(default=15, ge=1, description="Access token lifetime.")
    refresh_token_days: int = Field(default=30, ge=1, description="Refresh token lifetime.")
    bcrypt_rounds: int = Field(
        default=12, ge=4, le=31, description="bcrypt cost, 4 to 31; each +1 doubles the time."
    )
    email_verify_token_hours: int = Field(
        default=48, ge=1, description="Lifetime of the e-mail verification link."
    )
    password_reset_token_minutes: int = Field(
        default=60, ge=1, description="Lifetime of the password reset link."
    )
    password_reset_max_per_hour: int = Field(
        default=3,
        ge=1,
        description="Password-reset e-mails per account per rolling hour; further requests "
        "answer the same `202` and send nothing.",
    )

    login_max_failures_per_account: int = Field(
        default=5, ge=1, description="Failed logins per account within the window before `429`."
    )
    login_max_failures_per_address: int = Field(
        default=100,
        ge=1,
        description="Failed logins per client address within the window before `429`.",
    )
    login_failure_window_seconds: int = Field(
        default=900, ge=1, description="The moving window of the login throttle."
    )

    payment_gateway: Literal["sandbox", "http"] = Field(
        default="sandbox",
        description="`sandbox`: built in, no money moves, test cards (see docs/api.md). "
        "`http`: a Stripe-compatible API at `PAYMENT_GATEWAY_URL`.",
    )
    payment_gateway_url: str = Field(
        default="https://api.stripe.com",
        description="Base URL of the `http` gateway (`/v1/charges`, `/v1/refunds`).",
    )
    payment_gateway_secret_key: SecretStr | None = Field(
        default=None,
        description="Secret API key of the `http` gateway, sent as a bearer token; required "
        "with `PAYMENT_GATEWAY=http`.",
    )
    payment_gateway_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Time allowed for each gateway request."
    )
    payment_gateway_max_retries: int = Field(
        default=3,
        ge=1,
        le=10,
        description="Tries per gateway call, the first included (1: no retries), on "
        "connection errors, timeouts, `429` and `5xx`; every try carries the same "
        "idempotency key, so nothing is charged twice.",
    )
    platform_fee_percent: int = Field(
        default=30,
        ge=0,
        le=100,
        description="The platform's share of each sale, in percent; the instructor gets the rest.",
    )

    email_transport: Literal["console", "smtp", "mailgun"] = Field(
        default="console",
        description="`console` (printed to standard output), `smtp` (`SMTP_*`) or `mailgun` "
        "(`MAILGUN_*`).",
    )
    email_from: str = Field(
        default="TechTribe <no-reply@techtribe.dev>", description="Sender of every e-mail."
    )
    public_base_url: str = Field(
        default="http://localhost:8000",
        description="Where users reach the service: the base of the links in e-mails, the "
        "default OIDC return address.",
    )
    smtp_host: str = Field(default="localhost", description="SMTP server.")
    smtp_port: int = Field(default=25, description="SMTP port.")
    smtp_user: str | None = Field(default=None, description="SMTP user name.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_tls: Literal["none", "starttls", "ssl"] = Field(
        default="none", description="TLS to the SMTP server."
    )
    mailgun_api_key: SecretStr | None = Field(
        default=None, description="Mailgun API key; required with `EMAIL_TRANSPORT=mailgun`."
    )
    mailgun_domain: str | None = Field(
        default=None, description="Mailgun sending domain; required with `EMAIL_TRANSPORT=mailgun`."
    )
    mailgun_base_url: str = Field(
        default="https://api.mailgun.net",
        description="Mailgun API base (EU accounts: `https://api.eu.mailgun.net`).",
    )
    outbox_poll_seconds: float = Field(
        default=2.0,
        gt=0,
        description="Embedded mode: how often the in-process sender sweeps for due e-mails "
        "(retries, leftovers); a message committed by a request goes out at once.",
    )
    email_max_attempts: int = Field(
        default=5,
        ge=1,
        le=20,
        description="Tries per e-mail, the first included; then the message is `failed`.",
    )
    email_retry_base_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Backoff: the n-th retry waits base x 2^(n-1) seconds (30 s, 1 min, 2 min...).",
    )
    email_send_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="Limit of one SMTP or Mailgun exchange. A sender holds a message (its "
        "lease) for twice this long; only then may another sender take it over.",
    )
    email_sweep_seconds: int = Field(
        default=30,
        ge=1,
        le=60,
        description="How often the worker queues pending e-mails that were never queued (a "
        "divisor of 60).",
    )
    worker_shutdown_timeout_seconds: float = Field(
        default=20.0,
        ge=0,
        le=3600,
        description="On SIGTERM the worker takes no new job and lets running ones finish for "
        "at most this long (then they are cancelled and retried later). Kubernetes' "
        "`terminationGracePeriodSeconds` must be above it.",
    )

    oidc_google_client_id: str | None = Field(
        default=None,
        description="Client ID of the Google OAuth client; Google sign-in is on when this and "
        "the secret are set (docs/auth.md).",
    )
    oidc_google_client_secret: SecretStr | None = Field(
        default=None, description="The Google OAuth client's secret."
    )
    oidc_google_issuer: str = Field(
        default="https://accounts.google.com",
        description="Google's issuer; discovery is read from "
        "`{issuer}/.well-known/openid-configuration`.",
    )
    oidc_providers: dict[str, OIDCProviderSettings] = Field(
        default_factory=dict,
        description='More OpenID Connect providers, as JSON: `{"name": {"issuer": ..., '
        '"client_id": ..., "client_secret": ..., "issuer_aliases": []}}`.',
    )
    oidc_return_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated URL prefixes a sign-in may return to (scheme, host and "
        "port equal, path a prefix). Empty: `PUBLIC_BASE_URL`.",
    )
    oidc_http_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Time allowed for each call to a provider (discovery, keys, code exchange).",
    )
    oidc_jwks_min_refresh_seconds: float = Field(
        default=60.0,
        ge=0,
        description="An ID token naming an unknown key refetches the provider's keys at most "
        "this often.",
    )

    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        description="Larger request bodies get `413 payload_too_large`.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated browser origins allowed to call the API (empty: same "
        "origin only).",
    )
    log_level: str = Field(default="INFO", description="Root log level.")
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto",
        description="`json`, `text`, or `auto` (JSON in production, text otherwise).",
    )

    web_concurrency: int = Field(
        default=1,
        ge=1,
        description="`techtribe serve`: worker processes when `--workers` isn't given.",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Comma-separated proxy addresses (or networks, or `*`) whose "
        "`X-Forwarded-For` and `X-Forwarded-Proto` are believed: the client address (login "
        "throttling) and the scheme come from there. Default: only a proxy on this machine.",
    )
    ready_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        le=30,
        description="How long `/readyz` waits for each dependency (the database: a connection "
        "and `SELECT 1`; Redis: a `PING`) before it answers 503. Keep it below the readiness "
        "probe's timeout (3 s in deploy/kubernetes).",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="When set, `/metrics` (API and worker) answers only "
        "`Authorization: Bearer <token>`.",
    )
    worker_metrics_port: int = Field(
        default=9100,
        ge=0,
        le=65535,
        description="`techtribe worker` serves `/metrics` on this port (0: no listener).",
    )
    worker_metrics_host: str = Field(
        default="127.0.0.1", description="The interface of the worker's `/metrics` listener."
    )

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        # Operators paste plain URLs from their provider; map them to the async drivers.
        for plain, driver in (
            ("postgres://", "postgresql+asyncpg://"),
            ("postgresql://", "postgresql+asyncpg://"),
            ("sqlite:///", "sqlite+aiosqlite:///"),
        ):
            if value.startswith(plain):
                return driver + value[len(plain) :]
        if not value.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError(
                "DATABASE_URL must be postgresql+asyncpg://... or sqlite+aiosqlite:///..."
            )
        return value

    @field_validator("cors_origins", "oidc_return_allowlist", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("oidc_providers")
    @classmethod
    def _provider_names(
        cls, value: dict[str, OIDCProviderSettings]
    ) -> dict[str, OIDCProviderSettings]:
        for name in value:
            # The name is a path segment and is stored with each state (40 characters).
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", name):
                raise ValueError(
                    f"OIDC_PROVIDERS: {name!r} is not a valid provider name "
                    "(lower-case letters, digits, - and _, up to 40)"
                )
        return value

    @field_validator(
        "public_base_url", "payment_gateway_url", "mailgun_base_url", "oidc_google_issuer"
    )
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("email_sweep_seconds")
    @classmethod
    def _divides_a_minute(cls, value: int) -> int:
        # The sweep is a cron job: "every N seconds" is exact only for divisors of 60.
        if 60 % value:
            raise ValueError("EMAIL_SWEEP_SECONDS must divide 60 (1, 2, 3, 5, 10, 15, 20, 30, 60)")
        return value

    @model_validator(mode="after")
    def _mailgun_needs_credentials(self) -> Settings:
        if self.email_transport == "mailgun" and not (
            self.mailgun_api_key
            and self.mailgun_api_key.get_secret_value().strip()
            and self.mailgun_domain
        ):
            raise ValueError("EMAIL_TRANSPORT=mailgun needs MAILGUN_API_KEY and MAILGUN_DOMAIN")
        return self

    @model_validator(mode="after")
    def _gateway_needs_key(self) -> Settings:
        if self.payment_gateway == "http" and (
            self.payment_gateway_secret_key is None
            or not self.payment_gateway_secret_key.get_secret_value().strip()
        ):
            raise ValueError(
                "PAYMENT_GATEWAY=http needs PAYMENT_GATEWAY_SECRET_KEY (the gateway's secret API "
                "key); or use PAYMENT_GATEWAY=sandbox"
            )
        return self

    @model_validator(mode="after")
    def _refuse_dev_secret(self) -> Settings:
        secret = self.jwt_secret.get_secret_value()
        if len(secret) < 32:
            raise ValueError("JWT_SECRET must be at least 32 characters long")
        data_key = self.data_encryption_key
        if data_key is not None and len(data_key.get_secret_value()) < 32:
            raise ValueError("DATA_ENCRYPTION_KEY must be at least 32 characters long")
        if self.environment == "production" and secret == DEV_JWT_SECRET:
            raise ValueError(
                "ENVIRONMENT=production needs JWT_SECRET set to a random value of 32+ characters "
                '(python -c "import secrets; print(secrets.token_urlsafe(48))")'
            )
        return self

    @property
    def is_https(self) -> bool:
        """Clients reach the service over HTTPS (then every answer carries HSTS)."""
        return self.public_base_url.lower().startswith("https://")

    @property
    def oidc_return_prefixes(self) -> list[str]:
        return self.oidc_return_allowlist or [self.public_base_url]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def email_lease_seconds(self) -> float:
        """How long a sender holds an outbox row: past it, the row is free to take over."""
        return 2 * self.email_send_timeout_seconds

    @property
    def job_queue_name(self) -> str:
        """The saq queue of this deployment (its Redis keys are `saq:<name>:...`)."""
        return f"{self.redis_key_prefix}-email"

    @property
    def json_logs(self) -> bool:
        if self.log_format == "auto":
            return self.environment == "production"
        return self.log_format == "json"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests pass their own `Settings` to `create_app`)."""
    return Settings()


async def app_settings(request: Request) -> Settings:
    """The settings the running app was created with (a request's view of them)."""
    # async: FastAPI runs a plain `def` dependency in the thread pool.
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(app_settings)]
