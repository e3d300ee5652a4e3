"""All settings read from the environment, in one place (prefix ``PORTRAITS_``)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Process-wide settings.

    Attributes:
        lang: Language of messages people read (``zh-CN`` or ``en``).
        engine: Overrides the engine named in ``portraits.yaml`` (``duckdb`` or ``spark``).
        spark_master: Overrides the Spark master URL.
        now: Pins "now" (ISO timestamp) for reproducible runs; the clock otherwise.
    """

    model_config = SettingsConfigDict(env_prefix="PORTRAITS_", extra="ignore")

    lang: Literal["zh-CN", "en"] = "en"
    engine: Literal["duckdb", "spark"] | None = None
    spark_master: str | None = None
    now: datetime | None = None

    def current_time(self) -> datetime:
        """The pinned time if set, else the local clock (naive, local time)."""
        return self.now.replace(tzinfo=None) if self.now else datetime.now()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()
