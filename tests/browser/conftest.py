"""The admin console in a real browser: the local stack once per session (as `make serve` runs it, on free ports,
seeded with the demo company), the system Chromium driven by Playwright, and a fresh state for every test.

Why the system Chromium: `playwright install` downloads a browser build from a CDN at test time; `make test` installs
Debian's `chromium` instead and the tests find it (`CHROMIUM_PATH`, else `chromium` on the PATH).

Why a fresh state per test: each test builds its own story through the API (a conflict, an error to retry, records to
couple), so the tests pass in any order and on their own. Resetting is cheap: both emulators reset and re-seeded
(the seeded ids are deterministic), and every entity of the app's tables deleted (the tables themselves stay, as the
app created them).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

from local.stack.azurite import connection_string
from local.stack.launcher import LocalStack, quiet_timers
from tests.browser.scenario import Scenario

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "docs" / "console"
VIEWPORT = {"width": 1366, "height": 768}  # a laptop screen: the console must be readable there
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def chromium_path() -> str:
    found = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if not found:
        pytest.fail("No Chromium: install it (`make setup` does: apt-get install chromium) or set CHROMIUM_PATH.")
    return found


@pytest.fixture(scope="session")
def console_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = LocalStack.on_free_ports(cert_dir=Path(tmp_path_factory.mktemp("identity")))
    # no timer run between a scenario's writes (a CUSTOMER run between the two edits of `Scenario.conflict` settled
    # the conflict the errors page test waits for: a CI failure under load)
    stack.host_env.update(quiet_timers())
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def scenario(console_stack: LocalStack) -> Scenario:
    """The stack as the demo leaves it after seeding: both emulators re-seeded, the app's tables empty."""
    story = Scenario(console_stack)
    story.reset(connection_string("127.0.0.1", console_stack.ports["azurite"]))
    return story


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
    try:
        yield launched
    finally:
        launched.close()


class Console:
    """One browser tab on the console, with every console error and uncaught exception it produced."""

    def __init__(self, page: Page, stack: LocalStack, screenshots: Path) -> None:
        self.page, self.stack, self.screenshots = page, stack, screenshots
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console.error: {message.text} ({message.location.get('url', '')})")

    def open(self, route: str) -> Page:
        """`/api/console?code=<key>#/<route>`, as an admin opens it; waits for the page's heading."""
        self.page.goto(f"{self.stack.urls['functions']}/console?code={self.stack.function_key}#/{route}")
        self.page.locator("main h1").wait_for()
        return self.page

    def status(self) -> str:
        return self.page.locator("#status").inner_text()

    def screenshot(self, name: str) -> None:
        self.screenshots.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(self.screenshots / f"{name}.png"))


@pytest.fixture
def console(browser: Browser, console_stack: LocalStack, tmp_path: Path) -> Iterator[Console]:
    """A fresh browser context (no sessionStorage) at 1366x768. Screenshots go to docs/console/ with
    UPDATE_SCREENSHOTS=1 (`make screenshots`), else to the test's temporary folder."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    context.set_default_timeout(30_000)
    target = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    try:
        yield Console(context.new_page(), console_stack, target)
    finally:
        context.close()
