"""Fetching Java programs from Maven Central into a cache outside the clone.

The Kafka broker and LanguageTool are both jars from Maven Central, run with Java on
127.0.0.1. One small pom per program lists what to fetch; `mvn dependency:copy-dependencies`
copies the runtime jars into a folder of the cache, once: the folder is filled under another
name and renamed when complete, so an interrupted fetch never looks installed.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from alertcast.errors import ServiceError


class MavenError(ServiceError, RuntimeError):
    """Maven is missing or could not fetch the jars: the message says what to do."""


def copy_dependencies(pom: Path, libs: Path, marker_jar: str, what: str, say: Callable[[str], None]) -> Path:
    """The runtime jars of `pom` in `libs`, fetched unless `libs/marker_jar` is already there."""
    if (libs / marker_jar).exists():
        return libs
    if shutil.which("mvn") is None:
        raise MavenError("Maven (mvn) is not installed: apt-get install maven, then retry")
    say(f"fetching {what} from Maven Central into {libs} ...")
    libs.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as build:
        shutil.copy(pom, Path(build) / "pom.xml")
        partial = libs.with_name(libs.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        result = subprocess.run(
            [
                "mvn",
                "-B",
                "-q",
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={partial}",
            ],
            cwd=build,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not (partial / marker_jar).exists():
            raise MavenError(f"Maven could not fetch {what}:\n{result.stdout[-2000:]}")
        shutil.rmtree(libs, ignore_errors=True)
        partial.rename(libs)
    say(f"fetched {len(list(libs.glob('*.jar')))} jars")
    return libs
