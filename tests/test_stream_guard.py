"""The Faust fork is guarded (alertcast/stream/versions.py, transport.py): other versions, the
compiled stream, or a renamed private name stop the worker instead of turning a fix off."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from alertcast.settings import ROOT
from alertcast.stream import transport, versions

TRANSPORT = ROOT / "alertcast" / "stream" / "transport.py"


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_the_guarded_versions_are_the_pinned_ones_and_installed() -> None:
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned = dict(pin.split("#")[0].strip().split("==") for pin in pins if "==" in pin)
    assert {name: pinned[name] for name in versions.PINNED} == versions.PINNED
    assert versions.version_problems() == []


def test_another_version_is_refused_with_the_reason() -> None:
    found = {"faust-streaming": "0.15.3", "aiokafka": "0.14.1", "mode-streaming": "0.7.1"}
    with pytest.raises(versions.StreamGuardError) as refused:
        versions.require_pinned_versions(found.__getitem__)
    message = str(refused.value)
    assert message.startswith("aiokafka 0.14.1 found, 0.14.0 expected: ")
    assert "private names" in message and "pyproject.toml" in message
    assert "faust-streaming" not in message and "mode-streaming" not in message


def test_every_private_name_transport_touches_is_documented() -> None:
    """The 14 private names of the issue, each with the fix it carries and where it belongs;
    a new one used without an entry fails here."""
    code = TRANSPORT.read_text().split('"""', 2)[2]
    used = set(re.findall(r"(?<![\w\"])(_[a-z][a-z_]*)", code)) - {"_shape"}
    documented = {entry.name for entry in transport.PRIVATE_NAMES}
    assert used == documented and len(documented) == 14
    assert all(entry.fix and entry.upstream for entry in transport.PRIVATE_NAMES)
    new_offset = next(entry for entry in transport.PRIVATE_NAMES if entry.name == "_new_offset")
    assert "#606" in new_offset.upstream and "#707" in new_offset.upstream


def test_every_override_is_counted() -> None:
    counted = set(re.findall(r'CALLS\["([^"]+)"\]', TRANSPORT.read_text()))
    overrides = {f"{cls.__name__}.{name}" for cls, names in transport.OVERRIDES.items() for name in names}
    assert overrides <= counted


def test_the_installed_classes_still_have_every_overridden_method() -> None:
    assert transport.override_problems() == []


def test_a_renamed_or_reshaped_method_is_refused() -> None:
    class Base:
        def _new_offset(self, tp: object, extra: int) -> None: ...

        async def ack(self, message: object) -> bool:
            return True

    class Ours(Base):
        def _new_offset(self, tp: object) -> None: ...  # type: ignore[override]

        def ack(self, message: object) -> bool:  # type: ignore[override]
            return True

        def _add_gap(self) -> None: ...

    problems = transport.override_problems({Ours: ("_new_offset", "ack", "_add_gap")})
    assert [problem.rsplit(".", 1)[1] for problem in problems] == [
        "_new_offset changed its signature",  # a parameter more
        "ack changed its signature",  # a coroutine now
        "_add_gap is gone",
    ]


def test_a_missing_instance_attribute_is_refused() -> None:
    class Fetcher:
        _prefetch_backoff = 0.1

    versions.require_attributes(Fetcher(), ["_prefetch_backoff"], "aiokafka's fetcher")
    with pytest.raises(versions.StreamGuardError, match="aiokafka's fetcher has no _prefetch_backoff"):
        versions.require_attributes(object(), ["_prefetch_backoff"], "aiokafka's fetcher")


def test_the_consumer_checks_faust_s_attributes_when_made() -> None:
    """Made by a Faust app that is never started: its __post_init__ found them all."""
    import faust
    from faust.transport.drivers import TRANSPORTS

    TRANSPORTS.aliases["alertcast"] = "alertcast.stream.transport:Transport"
    app = faust.App("guard-test", broker="alertcast://127.0.0.1:1", store="memory://")
    before = transport.CALLS["Consumer.__post_init__"]
    consumer = app.consumer
    assert isinstance(consumer, transport.Consumer)
    assert transport.CALLS["Consumer.__post_init__"] == before + 1
    assert all(hasattr(consumer, name) for name in transport.CONSUMER_ATTRIBUTES)


def test_the_stream_package_makes_faust_use_its_python_stream() -> None:
    done = run_python(
        "import alertcast.stream.app, faust.streams\n"
        "from alertcast.stream.versions import require_python_stream\n"
        "require_python_stream()\n"
        "print(faust.streams._CStreamIterator)",
        ALERTCAST_CHANNELS=json.dumps(["website"]),
        NO_CYTHON="",  # not inherited from this process, which imported versions.py already
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "None"


def test_the_compiled_stream_is_refused() -> None:
    """faust imported before alertcast.stream: NO_CYTHON came too late, the worker refuses."""
    done = run_python(
        "import faust.streams\nfrom alertcast.stream.versions import require_python_stream\n"
        "require_python_stream()",
        NO_CYTHON="",
    )
    assert done.returncode != 0
    assert "StreamGuardError: Faust's compiled stream is in use" in done.stderr


def test_the_worker_refuses_another_mode_in_one_line(tmp_path: Path) -> None:
    """A mode-streaming of another version first on the path: `alertcast worker` exits 2 with
    one line saying which, found and expected, and why; no traceback, no broker needed."""
    info = tmp_path / "mode_streaming-0.7.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mode-streaming\nVersion: 0.7.2\n")
    done = subprocess.run(
        [sys.executable, "-m", "alertcast", "worker"],
        env={
            **os.environ,
            "PYTHONPATH": str(tmp_path),
            "ALERTCAST_CHANNELS": json.dumps(["website"]),
            "ALERTCAST_BOOTSTRAP": "127.0.0.1:1",
        },
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"error: mode-streaming 0.7.2 found, 0.7.1 expected: {versions.WHY}",
    ]
