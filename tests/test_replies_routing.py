"""Routing a reply to the competent service: keyword first, then the alert's category, then
the default; a broken rules file names the rule and field at fault."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alertcast.errors import ConfigurationError
from alertcast.replies.model import Reply
from alertcast.replies.routing import RoutingError, RoutingRules

RULES = """
default: communication
rules:
  - service: voirie
    categories: [road_closure, traffic]
    keywords: ["route barrée", déviation]
  - service: transports
    categories: [transport_disruption, strike]
    keywords: [bus scolaire, ramassage]
  - service: eau
    categories: [water, flood]
"""


def reply(text: str) -> Reply:
    return Reply(
        id="bluesky:3k2",
        network="bluesky",
        author="citoyen.bsky.social",
        text=text,
        at=datetime(2031, 3, 3, 10, 0, tzinfo=UTC),
        conversation="3k0",
    )


def test_a_keyword_beats_the_alerts_category() -> None:
    rules = RoutingRules.from_yaml(RULES)
    assert rules.route(reply("Le BUS scolaire passe-t-il demain ?"), "flood") == "transports"


def test_keywords_match_without_accents() -> None:
    rules = RoutingRules.from_yaml(RULES)
    assert rules.route(reply("Quelle deviation prendre ?"), None) == "voirie"


def test_without_a_keyword_the_category_decides() -> None:
    rules = RoutingRules.from_yaml(RULES)
    assert rules.route(reply("Quand est-ce que ça se termine ?"), "flood") == "eau"


def test_an_unknown_category_or_a_mention_goes_to_the_default() -> None:
    rules = RoutingRules.from_yaml(RULES)
    assert rules.route(reply("Merci pour l'info"), "volcano") == "communication"
    assert rules.route(reply("Merci pour l'info"), None) == "communication"


def test_a_bare_list_uses_the_default_service() -> None:
    rules = RoutingRules.from_yaml("- service: voirie\n  categories: [road_closure]\n")
    assert rules.route(reply("Et demain ?"), "road_closure") == "voirie"
    assert rules.route(reply("Et demain ?"), "heat") == "communication"


def test_an_empty_file_routes_everything_to_the_default() -> None:
    assert RoutingRules.from_yaml("").route(reply("?"), "flood") == "communication"


@pytest.mark.parametrize(
    ("text", "path", "rule"),
    [
        ("- service: voirie\n- service: eau\n  categories: [lava]\n", "rule 1, field categories.0", "enum"),
        ("- categories: [flood]\n", "rule 0, field service", "missing"),
        ("- service: eau\n  keyword: [pluie]\n", "rule 0, field keyword", "extra_forbidden"),
        ('- service: eau\n  keywords: [pluie, "  "]\n', "rule 0, field keywords", "value_error"),
        ("default: ''\n", "default", "string_too_short"),
    ],
)
def test_a_bad_file_names_the_rule_and_field(text: str, path: str, rule: str) -> None:
    with pytest.raises(RoutingError) as raised:
        RoutingRules.from_yaml(text)
    [problem] = raised.value.problems
    assert (problem.path, problem.rule) == (path, rule)
    assert path in str(raised.value)
    assert isinstance(raised.value, ConfigurationError)


def test_broken_yaml_is_a_configuration_error() -> None:
    with pytest.raises(RoutingError, match="yaml_syntax"):
        RoutingRules.from_yaml("- service: [voirie\n")
