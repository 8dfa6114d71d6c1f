"""Settings read from the environment (``COUNSEL_*``), never at import time."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["CounselSettings", "load_settings"]


class CounselSettings(BaseSettings):
    """Where Counsel keeps its data and who the command line acts as.

    ``COUNSEL_DATABASE_URL`` picks the store: a SQLite file by default, PostgreSQL by URL
    (``postgresql://user@host:5432/db``). ``COUNSEL_TOKEN`` is the acting actor's credential.
    ``COUNSEL_CLASSES_FILE`` overrides the decision classes shipped with the package.
    """

    model_config = SettingsConfigDict(env_prefix="COUNSEL_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".counsel")
    database_url: str | None = None
    token: str | None = None
    classes_file: Path | None = None
    #: seconds between deadline sweeps on a stack's task workers (``COUNSEL_SWEEP_EVERY_S``)
    sweep_every_s: float = Field(default=60.0, gt=0)
    #: where people's personal links point: the answer page as they reach it
    #: (``COUNSEL_PUBLIC_URL``, e.g. ``https://counsel.district.gov.cn``)
    public_url: str = "http://127.0.0.1:8400"
    #: the time zone deadlines are written in, in messages and on the answer page
    timezone: str = "Asia/Shanghai"
    #: seconds between the notifier's looks at the outbox (``COUNSEL_NOTIFY_EVERY_S``)
    notify_every_s: float = Field(default=5.0, gt=0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone, such as Asia/Shanghai") from None
        return value

    def resolved_database_url(self) -> str:
        """The store's URL: the configured one, or a SQLite file under ``home``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'counsel.db'}"


def load_settings() -> CounselSettings:
    """Read the settings from the environment now."""
    return CounselSettings()
