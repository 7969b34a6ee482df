"""The public-communication charter: neutral, factual, correct, calm.

Pure functions over texts and incidents; see engine.py for the two entry points.
"""

from alertcast.charter.engine import blocking, check_incident, check_text
from alertcast.models.finding import Finding

__all__ = ["Finding", "blocking", "check_incident", "check_text"]
