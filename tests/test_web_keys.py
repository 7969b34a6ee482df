"""API keys and rate limits, pure: hashing, lookup, revocation, configuration, token buckets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alertcast.settings import ROOT
from alertcast.web.keys import (
    AuthFailure,
    ConfigError,
    KeyRing,
    SourceKey,
    SourcesConfig,
    hash_key,
    load_sources,
    new_key,
    presented_key,
)
from alertcast.web.ratelimit import RateLimiter


def ring(*sources: SourceKey) -> KeyRing:
    return KeyRing(SourcesConfig(sources=list(sources)))


def test_new_key_is_random_and_only_its_hash_is_kept() -> None:
    first, second = new_key("dir-nord"), new_key("dir-nord")
    assert first.key != second.key and first.key.startswith("ack_") and len(first.key) > 40
    assert first.key_sha256 == hash_key(first.key) and len(first.key_sha256) == 64
    assert first.key not in first.yaml_entry() and first.key_sha256 in first.yaml_entry()
    assert load_sources(text=first.yaml_entry()).sources[0].name == "dir-nord"


def test_new_key_refuses_a_name_the_configuration_would_refuse() -> None:
    with pytest.raises(ValueError):
        new_key("has space")


def test_authenticate_finds_the_source_and_refuses_others() -> None:
    made = new_key("dir-nord")
    keys = ring(
        SourceKey(name="dir-nord", key_sha256=made.key_sha256), SourceKey(name="x", key_sha256="0" * 64)
    )
    found = keys.authenticate(made.key)
    assert isinstance(found, SourceKey) and found.name == "dir-nord"
    for presented, reason in ((None, "missing_key"), ("", "missing_key"), (made.key + "x", "invalid_key")):
        failure = keys.authenticate(presented)
        assert isinstance(failure, AuthFailure) and failure.reason == reason
        assert failure.problem.path == "Authorization" and failure.problem.hint


def test_revoked_key_is_refused_with_its_own_reason() -> None:
    made = new_key("old")
    failure = ring(SourceKey(name="old", key_sha256=made.key_sha256, revoked=True)).authenticate(made.key)
    assert isinstance(failure, AuthFailure) and failure.reason == "revoked_key"


def test_presented_key_from_bearer_or_x_api_key() -> None:
    assert presented_key({"authorization": "Bearer abc"}) == "abc"
    assert presented_key({"authorization": "bearer  abc "}) == "abc"
    assert presented_key({"x-api-key": "def"}) == "def"
    assert presented_key({"authorization": "Basic Zm9v", "x-api-key": "def"}) == "def"
    assert presented_key({"authorization": "Bearer "}) is None
    assert presented_key({}) is None


def test_sources_from_file_and_environment_text(tmp_path: Path) -> None:
    a, b = new_key("a"), new_key("b")
    path = tmp_path / "sources.yaml"
    path.write_text(f"sources:\n  - {{name: a, key_sha256: {a.key_sha256}}}\n")
    env = json.dumps({"sources": [{"name": "b", "key_sha256": b.key_sha256, "rate_per_minute": 5}]})
    config = load_sources(path, env)
    assert [(s.name, s.rate_per_minute) for s in config.sources] == [("a", 60), ("b", 5)]
    # The environment replaces the file's entry of the same name (e.g. to revoke a key at once).
    revoked = json.dumps({"sources": [{"name": "a", "key_sha256": a.key_sha256, "revoked": True}]})
    assert load_sources(path, revoked).sources[0].revoked


def test_bad_configuration_says_where_and_what(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as bad_hash:
        load_sources(text='{"sources": [{"name": "a", "key_sha256": "nothex"}]}')
    assert bad_hash.value.problems[0].path == "sources.0.key_sha256"
    with pytest.raises(ConfigError, match="yaml_syntax"):
        load_sources(text="sources: [")
    same = new_key("a").key_sha256
    with pytest.raises(ConfigError):
        load_sources(
            text=json.dumps(
                {"sources": [{"name": "a", "key_sha256": same}, {"name": "b", "key_sha256": same}]}
            )
        )


def test_shipped_example_loads() -> None:
    config = load_sources(ROOT / "deploy" / "sources.example.yaml")
    assert {s.name for s in config.sources} == {"dir-nord", "transports-urbains", "prefecture-ops"}
    assert any(s.revoked for s in config.sources) and any(s.admin for s in config.sources)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limit_bursts_then_refills_with_the_clock() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock)
    assert [limiter.check("a", 3) for _ in range(3)] == [0, 0, 0]
    assert limiter.check("a", 3) == 20  # 3 a minute: one token every 20 s
    assert limiter.check("b", 3) == 0  # buckets are per source
    clock.now += 19.5
    assert limiter.check("a", 3) == 1  # Retry-After is whole seconds, at least 1
    clock.now += 0.5
    assert limiter.check("a", 3) == 0
    clock.now += 3600
    assert [limiter.check("a", 3) for _ in range(4)] == [0, 0, 0, 20]  # never more than the burst


def test_rate_limit_follows_a_changed_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock)
    assert limiter.check("a", 1) == 0 and limiter.check("a", 1) == 60
    assert limiter.check("a", 120) == 0  # the new configuration applies at once


def test_rate_limit_ignores_a_clock_going_backwards() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock)
    limiter.check("a", 1)
    clock.now -= 500
    assert limiter.check("a", 1) == 60
