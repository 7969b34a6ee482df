"""A real local LanguageTool HTTP server, for the grammar and spelling check of every text.

LanguageTool (the open-source checker, Java) comes from Maven Central through
`deploy/languagetool/pom.xml` into a cache outside the clone, exactly as the Kafka broker's
jars do, and runs with Java on 127.0.0.1 only: `HTTPServer` without `--public` binds to the
loopback address, and without `--allow-origin` no web page may call it. alertcast's own French
rules (`deploy/languagetool/classpath/`, e.g. "jusqu'à 8 décembre") are loaded next to
LanguageTool's. It is stopped by its PID, like the broker.

LanguageTool takes seconds to answer its first check of a language (it loads its rules and
dictionaries then): `up` waits until one French and one English check have answered, so the
first incident composed pays nothing ("keep LanguageTool warm").
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from alertcast.charter import grammar
from alertcast.errors import ServiceError
from alertcast.maven import MavenError, copy_dependencies
from alertcast.processes import port_open, running_pid, stop
from alertcast.settings import ROOT

LANGUAGETOOL_VERSION = "6.8"
DEPLOY = ROOT / "deploy" / "languagetool"
SERVER_JAR = f"languagetool-server-{LANGUAGETOOL_VERSION}.jar"
DEFAULT_PORT = 8081
#: What `up` checks once per language code (grammar.language_code) before saying ready: the
#: first check of a language builds its pipeline (rules, dictionaries), 10–40 s on two cores.
WARM_UP = {
    "fr": "La route est fermée jusqu'au 8 décembre.",
    "en-GB": "The road is closed until 8 December.",
    "en-US": "The road is closed until December 8.",
}
#: The server's own settings (HTTPServer --config). Without pipelineCaching LanguageTool builds
#: a new pipeline for every request (seconds each); with it a warm check takes 0.1–0.3 s.
SERVER_CONFIG = {
    "pipelineCaching": "true",
    "maxPipelinePoolSize": "50",
    "pipelineExpireTimeInSeconds": str(365 * 24 * 3600),
    "cacheSize": "5000",
    "maxTextLength": "50000",
}


class LanguageToolError(ServiceError, RuntimeError):
    """Something the operator must fix: the message says what and how."""


def libs_dir(cache_dir: Path) -> Path:
    return cache_dir / f"languagetool-{LANGUAGETOOL_VERSION}" / "libs"


def install(cache_dir: Path, say: Callable[[str], None] = print) -> Path:
    """Fetch LanguageTool's server with its French and English modules, once."""
    try:
        return copy_dependencies(
            DEPLOY / "pom.xml", libs_dir(cache_dir), SERVER_JAR, f"LanguageTool {LANGUAGETOOL_VERSION}", say
        )
    except MavenError as error:
        raise LanguageToolError(str(error)) from None


@dataclass(frozen=True)
class Server:
    """One LanguageTool server and the folder of its pid file, config and log."""

    port: int
    data_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "languagetool.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pid(self) -> int | None:
        """The PID of the running server, or None (a stale pid file is ignored)."""
        return running_pid(self.pid_file)


def up(
    data_dir: Path,
    cache_dir: Path,
    port: int = DEFAULT_PORT,
    heap_mb: int = 512,
    timeout_s: float = 120.0,
    say: Callable[[str], None] = print,
) -> Server:
    """Start the server unless it runs, and wait until it has answered a check per language."""
    libs = install(cache_dir, say)
    if shutil.which("java") is None:
        raise LanguageToolError("Java is not installed: apt-get install openjdk-17-jre-headless, then retry")
    server = Server(port, data_dir.resolve())
    if (pid := server.pid()) is not None:
        say(f"LanguageTool already running (pid {pid}) on {server.url}")
        return server
    if port_open(port):
        raise LanguageToolError(
            f"port {port} on 127.0.0.1 is taken by another process: stop it, or choose another with --port"
        )
    server.data_dir.mkdir(parents=True, exist_ok=True)
    config = server.data_dir / "server.properties"
    config.write_text("".join(f"{key}={value}\n" for key, value in SERVER_CONFIG.items()))
    command = [
        "java",
        f"-Xmx{heap_mb}m",
        f"-Xms{min(heap_mb, 128)}m",
        "-cp",
        f"{libs}/*{os.pathsep}{DEPLOY / 'classpath'}",
        "org.languagetool.server.HTTPServer",
        "--port",
        str(port),
        "--config",
        str(config),
    ]
    with open(server.log_file, "ab") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    server.pid_file.write_text(str(process.pid))
    started = time.monotonic()
    wait_ready(server, timeout_s)
    say(
        f"LanguageTool {LANGUAGETOOL_VERSION} ready on {server.url} in {time.monotonic() - started:.1f} s "
        f"(pid {server.pid()}, log {server.log_file})"
    )
    return server


def wait_ready(server: Server, timeout_s: float) -> None:
    """Ready = it has answered one check per language, all asked at once (the pipelines build
    in parallel), with the options the charter uses; a server that died says why."""
    deadline = time.monotonic() + timeout_s
    while not port_open(server.port):
        if server.pid() is None:
            raise LanguageToolError(f"LanguageTool exited during start; end of its log:\n{_tail(server)}")
        if time.monotonic() > deadline:
            raise LanguageToolError(f"LanguageTool did not listen within {timeout_s:.0f} s:\n{_tail(server)}")
        time.sleep(0.1)
    left = max(1.0, deadline - time.monotonic())
    with httpx.Client(timeout=httpx.Timeout(left, connect=2.0)) as client:

        def warm(item: tuple[str, str]) -> str | None:
            language, text = item
            try:
                answer = client.post(f"{server.url}/v2/check", data=grammar.request_data(language, text))
            except httpx.HTTPError as error:
                return f"{language}: {error!r}"
            return None if answer.status_code == 200 else f"{language}: HTTP {answer.status_code}"

        with ThreadPoolExecutor(len(WARM_UP)) as pool:
            failures = [failure for failure in pool.map(warm, WARM_UP.items()) if failure]
    if failures:
        raise LanguageToolError(f"LanguageTool did not answer ({'; '.join(failures)}):\n{_tail(server)}")


def down(data_dir: Path, port: int = DEFAULT_PORT, timeout_s: float = 30.0) -> int | None:
    """Stop the server started from data_dir by its PID, and wait until it has exited."""
    server = Server(port, data_dir.resolve())
    pid = server.pid()
    if pid is None:
        return None
    stop(pid, timeout_s)
    server.pid_file.unlink(missing_ok=True)
    return pid


def running(data_dir: Path, port: int = DEFAULT_PORT) -> tuple[Server, int | None]:
    server = Server(port, data_dir.resolve())
    return server, server.pid()


def _tail(server: Server) -> str:
    if not server.log_file.exists():
        return ""
    return "\n".join(server.log_file.read_text(errors="replace").splitlines()[-15:])
