"""Typed settings: one schema, a documented default per key.

Sources, strongest first: ``ECOACH_*`` environment variables, the TOML file named by
``ECOACH_CONFIG`` (default ``config/ecoach.toml`` when present), then the defaults below.
``config/ecoach.example.toml`` documents every key.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_CONFIG = Path("config/ecoach.toml")


class SettingsError(Exception):
    """A setting is invalid; the message names the key and fits on one line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ECOACH_", extra="forbid")

    database_url: str = Field(
        "sqlite+aiosqlite:///./ecoach.db",
        description="SQLAlchemy URL: sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db",
    )
    host: str = Field("127.0.0.1", description="Address the web server listens on")
    port: int = Field(8080, ge=1, le=65535, description="Port the web server listens on")
    public_url: str = Field(
        "", description="Base URL used in links sent to coachees; empty means http://host:port"
    )
    secret_key: str = Field(
        "", description="Key for session cookies; empty means read or create secret_key_file"
    )
    secret_key_file: str = Field(
        "./ecoach-secret.key", description="File that holds the secret key (created 0600)"
    )
    auto_migrate: bool = Field(True, description="Apply database migrations at start-up")
    default_language: Literal["nl", "en"] = Field("nl", description="Language for new coaches")
    default_time_zone: str = Field("Europe/Amsterdam", description="IANA time zone for new coaches")
    max_message_chars: int = Field(
        20000, ge=1, le=1_000_000, description="Longest chat or reply message accepted"
    )
    chat_link_days: int = Field(
        0, ge=0, description="Days a new chat link stays valid; 0 means until revoked"
    )
    login_attempts: int = Field(5, ge=1, description="Failed logins allowed per window")
    login_window_seconds: int = Field(300, ge=1, description="Window for counting failed logins")
    session_max_age_hours: int = Field(
        12, ge=1, description="Hours a coach login lasts without activity"
    )
    secure_cookies: bool = Field(
        False, description="Mark cookies Secure (set true behind HTTPS)"
    )
    inbox_page_size: int = Field(50, ge=1, le=500, description="Engagements per inbox page")
    timeline_page_size: int = Field(100, ge=1, le=1000, description="Exchanges per timeline page")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Logging level"
    )

    @field_validator("default_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_db(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = Path(os.environ.get("ECOACH_CONFIG", DEFAULT_CONFIG))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def resolved_secret(self) -> str:
        """The secret key, created in ``secret_key_file`` on first use."""
        if self.secret_key:
            return self.secret_key
        path = Path(self.secret_key_file)
        if path.is_file():
            return path.read_text().strip()
        key = secrets.token_urlsafe(48)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
        return key


def load_settings(**overrides: object) -> Settings:
    """Load settings or raise SettingsError with one line naming the bad key."""
    config = os.environ.get("ECOACH_CONFIG")
    if config and not Path(config).is_file():
        raise SettingsError(f"ECOACH_CONFIG: file {config!r} does not exist")
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "?"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise SettingsError(
            f"setting {key!r} (env ECOACH_{key.upper()}): {first['msg']}{more}"
        ) from None
    except (ValueError, OSError) as exc:  # e.g. a TOML syntax error
        raise SettingsError(f"configuration file: {exc}") from None


def example_toml() -> str:
    """The documented example configuration: every key, its default, what it means."""
    lines = [
        "# ecoach configuration. Copy to config/ecoach.toml (or point ECOACH_CONFIG at a file)",
        "# and change what you need; every key below shows its default. Each key can also be",
        "# set with an environment variable: ECOACH_<KEY IN CAPITALS>, e.g. ECOACH_PORT=9000.",
        "",
    ]
    for name, field in Settings.model_fields.items():
        lines.append(f"# {field.description}")
        lines.append(f"# env: ECOACH_{name.upper()}")
        lines.append(f"{name} = {_toml_value(field.default)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
