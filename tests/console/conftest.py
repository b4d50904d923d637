"""Browser fixtures for the console: Debian's Chromium driven by Playwright, a real `govern serve` on loopback,
API tokens of each role for it, and screenshots kept as test artifacts."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
from typer.testing import CliRunner

from govern.cli import app
from tests.conftest import ROOT
from tests.live_service import running_service

HERE = Path(__file__).resolve().parent
CHROMIUM = Path("/usr/bin/chromium")
"""Debian's Chromium (`requirements/system-packages` installs it); Playwright's own browser download is not used."""
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
NARROW = {"width": 390, "height": 844}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the console's tests that drive the browser `browser` and `slow`, and those with a live service `slow`."""
    for item in items:
        if not item.path.is_relative_to(HERE):
            continue
        fixtures = getattr(item, "fixturenames", ())
        if "browser" in fixtures:
            item.add_marker(pytest.mark.browser)
        if "browser" in fixtures or "service" in fixtures:
            item.add_marker(pytest.mark.slow)


def unavailable(reason: str) -> NoReturn:
    """A skip, or a failure where CI=true: the browser tests must run in CI."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: the browser tests need it in CI (requirements/system-packages installs Chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="package")
def browser():
    """Headless Chromium, launched once for the console's tests. Package scope, not session: Playwright's sync
    API marks an asyncio loop as running on the main thread while it is started, so it stops when the last
    console test has run and the rest of the suite can call `asyncio.run` again (in-process FastAPI tests
    here are fine: TestClient runs its loop on a thread of its own)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed")
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"no browser at {CHROMIUM}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()


def open_page(browser, viewport: dict[str, int]) -> Iterator:
    """A page in a fresh context (no cookies shared between tests) that fails its test on an uncaught script
    error or a Content-Security-Policy refusal, either of which a page's own assertions could miss."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text else None)
    yield page
    context.close()
    assert not problems, f"the page reported: {problems}"


@pytest.fixture
def page(browser):
    """A desktop-sized page (1280×800)."""
    yield from open_page(browser, DESKTOP)


@pytest.fixture
def narrow_page(browser):
    """A phone-sized page (390×844), for the narrow-screen layouts."""
    yield from open_page(browser, NARROW)


@pytest.fixture
def screenshot(request) -> Callable[..., Path]:
    """`screenshot(page, label)` saves the whole page as test-artifacts/screenshots/<test>-<label>.png (the
    folder for CI to keep) and returns the path."""

    def take(page, label: str) -> Path:
        name = re.sub(r"[^\w.-]+", "-", f"{request.node.name}-{label}").strip("-")
        path = SCREENSHOTS / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@dataclass(frozen=True)
class Service:
    """A running `govern serve` and its database, for minting tokens the console signs in with."""

    url: str
    database_url: str

    def token(self, role: str, team: str, name: str = "console") -> str:
        """A new API token's secret, made by `govern token create` on the service's database."""
        result = CliRunner().invoke(app, ["token", "create", "--role", role, "--team", team, "--name", name],
                                    env={"GOVERN_DATABASE_URL": self.database_url}, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout.strip().splitlines()[-1]


@pytest.fixture
def service(tmp_path) -> Iterator[Service]:
    """`govern serve` on loopback, on a fresh SQLite database in tmp_path."""
    database_url = f"sqlite:///{tmp_path / 'govern.db'}"
    with running_service(database_url) as url:
        yield Service(url, database_url)


def sign_in(page, url: str, token: str, next_path: str = "") -> None:
    """Sign in through /ui/login's form by keyboard, as a person would: type the token, press Enter."""
    page.goto(f"{url}/ui/login" + (f"?next={next_path}" if next_path else ""))
    page.get_by_label("API token").fill(token)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/ui/login" not in page.url, page.locator("main").inner_text()
