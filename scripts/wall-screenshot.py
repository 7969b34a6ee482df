"""The README's screenshot of the demo's wall: `make demo`, then
`.venv/bin/python scripts/wall-screenshot.py http://127.0.0.1:8090/ docs/wall.png`.

Debian's Chromium through Playwright, as the browser tests drive it (scripts/install-browser.sh).
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def main(url: str, out: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000}, locale="fr-FR")
            page.goto(url)
            page.screenshot(path=str(out), full_page=False)
        finally:
            browser.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
