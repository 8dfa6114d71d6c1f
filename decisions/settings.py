"""Settings read from the environment (``COUNSEL_*``), never at import time."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
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

    def resolved_database_url(self) -> str:
        """The store's URL: the configured one, or a SQLite file under ``home``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'counsel.db'}"


def load_settings() -> CounselSettings:
    """Read the settings from the environment now."""
    return CounselSettings()
