"""The duty communicators' console, served by `alertcast web` under /console."""

from alertcast.web.console.config import ConsoleConfig
from alertcast.web.console.routes import Console

__all__ = ["Console", "ConsoleConfig"]
