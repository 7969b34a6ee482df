"""alertcast: an event-driven crisis alert broadcaster for public bodies."""

__version__ = "0.1.0"
