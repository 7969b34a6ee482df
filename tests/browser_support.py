"""Real Chromium for the `browser` tier: launch it, keep screenshots, run axe-core.

Chromium is Debian's package, driven by Python Playwright through `executable_path`: the
browsers `playwright install` downloads cannot be fetched on our machines. axe-core comes
from the npm registry into the cache folder outside the clone. Both are put there by
scripts/install-browser.sh before the tests, so nothing is downloaded at run time; when
either is missing the tests fail (never skip) and say which script to run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

from alertcast.settings import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
CACHE = Path(os.environ.get("ALERTCAST_CACHE_DIR", Path.home() / ".cache" / "alertcast"))
AXE_JS = CACHE / "npm" / "node_modules" / "axe-core" / "axe.min.js"
INSTALL_HINT = "run scripts/install-browser.sh (Debian's chromium and axe-core into the cache folder)"
BLOCKING_IMPACTS = ("serious", "critical")


def artifacts_dir() -> Path:
    """Where CI collects files: ALERTCAST_ARTIFACTS, relative to the repo root unless absolute."""
    return ROOT / os.environ.get("ALERTCAST_ARTIFACTS", "artifacts")


def require_browser() -> None:
    """Fail (not skip) when the browser tier's tools are missing: a skipped tier looks green."""
    missing = [str(path) for path in (CHROMIUM, AXE_JS) if not path.is_file()]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: {INSTALL_HINT}", pytrace=False)


@contextmanager
def chromium(user_data_dir: Path) -> Iterator[BrowserContext]:
    """A headless Chromium with a fresh profile in `user_data_dir`, closed on exit.

    A persistent context is how Playwright takes `--user-data-dir` (it refuses the flag in
    `args`); a new folder per test means no cache, cookies or service worker carry over.
    """
    require_browser()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(user_data_dir),
            executable_path=str(CHROMIUM),
            headless=True,
            args=list(CHROMIUM_FLAGS),
            locale="fr-FR",
            timezone_id="Europe/Paris",
        )
        try:
            yield context
        finally:
            context.close()


class LazyChromium:
    """Starts Chromium on the first page a test opens, so a missing browser fails the test itself.

    A fixture that launched it would turn "run scripts/install-browser.sh" into a setup
    error; from inside the test it is an ordinary failure with that message.
    """

    def __init__(self, user_data_dir: Path, timeout_ms: float) -> None:
        self._user_data_dir = user_data_dir
        self._timeout_ms = timeout_ms
        self._stack = ExitStack()
        self._context: BrowserContext | None = None

    def new_page(self) -> Page:
        if self._context is None:
            self._context = self._stack.enter_context(chromium(self._user_data_dir))
            self._context.set_default_timeout(self._timeout_ms)
        return self._context.new_page()

    def close(self) -> None:
        self._stack.close()


def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG under <artifacts>/screenshots/, kept by CI; returns its path."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "page"
    path = artifacts_dir() / "screenshots" / f"{safe}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


@dataclass(frozen=True)
class AxeReport:
    version: str
    violations: list[dict[str, Any]]
    passed: int  # rules that found nodes and passed: proof axe checked something
    incomplete: list[dict[str, Any]]  # "needs review": axe could not decide (e.g. contrast on an image)


def run_axe(page: Page) -> AxeReport:
    """axe-core on the page as loaded (every rule axe runs by default: WCAG A/AA, best practice)."""
    require_browser()
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_JS))
    result: dict[str, Any] = page.evaluate("async () => await axe.run(document)")
    return AxeReport(
        version=result["testEngine"]["version"],
        violations=result["violations"],
        passed=len(result["passes"]),
        incomplete=result["incomplete"],
    )


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per violation and one per offending node, for the test log."""
    lines = []
    for violation in violations:
        impact, rule = violation["impact"], violation["id"]
        lines.append(f"  [{impact}] {rule}: {violation['help']} ({violation['helpUrl']})")
        lines += [f"      {_target(node['target'])}: {node['html'][:160]}" for node in violation["nodes"]]
    return "\n".join(lines) or "  none"


def _target(target: list[Any]) -> str:
    """axe's CSS selector path (nested lists for frames and shadow roots)."""
    return " > ".join(_target(part) if isinstance(part, list) else str(part) for part in target)


def blocking(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in violations if v["impact"] in BLOCKING_IMPACTS]


@contextmanager
def uvicorn_app(factory: Callable[[], Any], start_timeout_s: float = 60.0) -> Iterator[str]:
    """The ASGI app `factory` makes, under uvicorn on 127.0.0.1 (a free port), in a thread; yields
    its URL and stops it on exit. A factory, so aiokafka's clients are made in the server's loop."""
    import threading

    import uvicorn
    from servers import wait_for

    server = uvicorn.Server(
        uvicorn.Config(factory, factory=True, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive(), start_timeout_s, "the web server")
        assert server.started, "the web server stopped during its start"
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def load_axe(page: Page) -> None:
    """axe-core into a page whose Content-Security-Policy refuses inline scripts (the console's
    `script-src 'self'`): evaluated through the DevTools protocol, which the CSP does not govern.
    `run_axe` then finds it loaded."""
    require_browser()
    page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;window.axe = axe; true")
