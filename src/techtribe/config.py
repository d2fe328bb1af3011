"""Settings: one place, read from the environment and `.env`, with documented defaults."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Literal

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


class Settings(BaseSettings):
    """Every setting of the service; the defaults run the embedded mode (SQLite, no Redis)."""

    # env_ignore_empty: `JWT_SECRET=` in a .env means "not set", never an empty key.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    environment: Literal["development", "production", "test"] = "development"
    database_url: str = "sqlite+aiosqlite:///./techtribe.db"
    database_pool_size: int = Field(default=10, ge=1)
    database_echo: bool = False
    redis_url: str | None = None
    redis_key_prefix: str = "techtribe"

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    # Encrypts the secret parts of queued e-mails (HKDF-derived key); unset: JWT_SECRET's.
    data_encryption_key: SecretStr | None = None
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    access_token_minutes: int = Field(default=15, ge=1)
    refresh_token_days: int = Field(default=30, ge=1)
    bcrypt_rounds: int = Field(default=12, ge=4, le=31)
    email_verify_token_hours: int = Field(default=48, ge=1)
    password_reset_token_minutes: int = Field(default=60, ge=1)
    # Reset e-mails per account per rolling hour; further requests answer the same, send nothing.
    password_reset_max_per_hour: int = Field(default=3, ge=1)

    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=100, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1)

    payment_gateway: Literal["sandbox", "http"] = "sandbox"
    payment_gateway_url: str = "https://api.stripe.com"
    payment_gateway_secret_key: SecretStr | None = None
    payment_gateway_timeout_seconds: float = Field(default=10.0, gt=0)
    # Tries per gateway call, the first one included (1: no retries).
    payment_gateway_max_retries: int = Field(default=3, ge=1, le=10)
    platform_fee_percent: int = Field(default=30, ge=0, le=100)

    email_transport: Literal["console", "smtp", "mailgun"] = "console"
    email_from: str = "TechTribe <no-reply@techtribe.dev>"
    public_base_url: str = "http://localhost:8000"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: Literal["none", "starttls", "ssl"] = "none"
    mailgun_api_key: SecretStr | None = None
    mailgun_domain: str | None = None
    mailgun_base_url: str = "https://api.mailgun.net"
    outbox_poll_seconds: float = Field(default=2.0, gt=0)
    # Tries per e-mail, the first included; then the outbox row is marked failed.
    email_max_attempts: int = Field(default=5, ge=1, le=20)
    # Backoff: the n-th retry waits base * 2^(n-1) seconds (30 s, 1 min, 2 min, 4 min...).
    email_retry_base_seconds: float = Field(default=30.0, gt=0)
    # Limit of one SMTP or Mailgun exchange. A sender holds a row for twice this long
    # (its lease); only after that may another worker take it over.
    email_send_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # How often the worker looks for pending rows that were never queued (a divisor of 60).
    email_sweep_seconds: int = Field(default=30, ge=1, le=60)

    # Sign in with Google (or any OpenID Connect provider): see README "Sign in with Google".
    oidc_google_client_id: str | None = None
    oidc_google_client_secret: SecretStr | None = None
    oidc_google_issuer: str = "https://accounts.google.com"
    # More providers as JSON: {"name": {"issuer": ..., "client_id": ..., "client_secret": ...}}.
    oidc_providers: dict[str, OIDCProviderSettings] = Field(default_factory=dict)
    # Comma-separated URL prefixes `return_to` may point at (empty: PUBLIC_BASE_URL).
    oidc_return_allowlist: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Time allowed for each call to a provider (discovery, keys, code exchange).
    oidc_http_timeout_seconds: float = Field(default=10.0, gt=0)
    # A token naming an unknown key refetches the provider's keys at most this often.
    oidc_jwks_min_refresh_seconds: float = Field(default=60.0, ge=0)

    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # Comma-separated origins allowed to call the API from a browser (empty: same origin only).
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_level: str = "INFO"
    log_format: Literal["auto", "json", "text"] = "auto"

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
