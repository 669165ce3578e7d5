"""A real RepairQC server (the `flask demo` embedded default) and Debian's Chromium, for browser tests.

The server runs as a subprocess on a throwaway SQLite control plane in a tmp dir, exactly as
`make run` would start it, so these tests see what a person at a browser sees. Chromium is the
Debian package (Playwright's own browser download is not used): when it is missing the tests
skip, or fail when the environment variable CI is set.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests import clock

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
DEMO_PASSWORD = "repairqc-demo"
#: <html lang> of each locale the navbar's language switch offers.
HTML_LANG = {"en": "en", "zh_Hans_CN": "zh-Hans"}
STARTUP_TIMEOUT = 20.0  # seconds for `flask run` to answer /healthz
# Without the background-networking flags Chromium keeps dialling Google services.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass(frozen=True)
class LiveServer:
    port: int
    #: The server's environment: `server_app()` opens the same databases from the test.
    env: dict[str, str]
    scheme: str = "http"

    def url(self, host: str, path: str = "/") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def tenant_url(self, slug: str, path: str = "/") -> str:
        """Tenants are served at <slug>.localhost; Chromium resolves *.localhost to loopback itself."""
        return self.url(f"{slug}.localhost", path)

    @property
    def health_url(self) -> str:
        return self.url("127.0.0.1", "/healthz")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def running_server(tmp: Path, *, demo: bool = True, **settings: str) -> Iterator[LiveServer]:
    """`flask demo` (unless `demo=False`) then `flask run` on a free port, in the instance `tmp`,
    with `settings` added to the environment; stopped when the block ends."""
    port = _free_port()
    env = {
        **os.environ,
        "REPAIRQC_ENV": "development",
        "DATABASE_URL": f"sqlite:///{tmp / 'control.db'}",
        "TENANT_DATA_DIR": str(tmp / "tenants"),
        "SECRET_KEY": secrets.token_hex(32),
        "SESSION_COOKIE_SECURE": "false",
        "MAIL_BACKEND": "console",
        "SERVER_PORT": str(port),
        "PREFERRED_URL_SCHEME": "http",
        "REDIS_URL": "",
        "BASE_DOMAIN": "localhost",
        "PYTHONUNBUFFERED": "1",
        **settings,
    }
    env.pop("FLASK_DEBUG", None)
    flask = [*clock.command("flask"), "--app", "repairqc"]

    first = [*flask, "demo"] if demo else [*flask, "db", "upgrade"]
    prepared = subprocess.run(
        first, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if prepared.returncode != 0:
        pytest.fail(
            f"`{' '.join(first[3:])}` failed ({prepared.returncode}):\n{prepared.stdout}\n{prepared.stderr}"
        )

    log_path = tmp / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [*flask, "run", "--host", "127.0.0.1", "--port", str(port), "--no-reload", "--no-debugger"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        live = LiveServer(port, env)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _healthy(live.health_url):
            if server.poll() is not None or time.monotonic() > deadline:
                state = f"exited with {server.returncode}" if server.poll() is not None else "timed out"
                pytest.fail(f"RepairQC server {state} before /healthz answered 200:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield live
    finally:
        _stop(server)
        # Shown with -rA or on failure: the server side of whatever the browser did.
        sys.stderr.write(f"\n--- RepairQC server log ({log_path}) ---\n{log_path.read_text()}")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The demo tenant served by `flask run` on a free port, in a throwaway instance."""
    with running_server(tmp_path_factory.mktemp("live-server")) as live:
        yield live


@contextlib.contextmanager
def server_app(live_server: LiveServer) -> Iterator[Flask]:
    """An app on the live server's databases, for what no screen does yet (e.g. begin a QC check)."""
    from repairqc import create_app

    keys = ("DATABASE_URL", "TENANT_DATA_DIR", "SECRET_KEY", "BASE_DOMAIN", "REDIS_URL", "MAIL_BACKEND")
    with pytest.MonkeyPatch.context() as patch:
        for key in keys:
            patch.setenv(key, live_server.env[key])
        patch.setenv("REPAIRQC_ENV", "development")
        app = create_app()
    yield app


@pytest.fixture(scope="session")
def chromium_browser():
    if not CHROMIUM.exists():
        reason = f"Debian's Chromium ({CHROMIUM}) is not installed: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (required under CI)")
        pytest.skip(f"{reason} (required only when CI is set)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium_browser):
    """A fresh browser context (no cookies) and page, English, desktop-sized."""
    context = chromium_browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        with contextlib.suppress(Exception):
            context.close()


# --- several people, each in their own browser ---------------------------------------------------


@pytest.fixture
def contexts(chromium_browser) -> Iterator[list]:
    """Browser contexts opened by a test (one per person), closed at its end."""
    opened: list = []
    yield opened
    for context in opened:
        context.close()


def new_page(contexts: list, browser, **options):
    """A page in a new context of its own (cookies, viewport), closed with `contexts`."""
    context = browser.new_context(
        **{"locale": "en-US", "viewport": {"width": 1400, "height": 900}, **options}
    )
    context.set_default_timeout(10_000)
    contexts.append(context)
    return context.new_page()


def sign_in(page: Page, live_server: LiveServer, email: str) -> None:
    """Sign in to the demo tenant with the demo password; lands on the admin home.

    The form is found by its fields, not its labels: the login page may already be in Chinese.
    """
    page.goto(live_server.tenant_url("demo", "/login"))
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(DEMO_PASSWORD)
    page.locator("form:has(input[name=password]) button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))


def choose_language(page: Page, locale: str) -> None:
    """Pick `locale` in the navbar's language switch (a no-op if the account already uses it).

    The <select> submits its form on change and the POST comes back to the same page. On a phone
    the navbar is folded behind its toggle, which is tapped open first. Accounts remember their
    language across browser tests, so each test chooses the one whose texts it asserts.
    """
    switch = page.get_by_test_id("language-switch").locator("select[name=locale]")  # its label is translated
    page.wait_for_load_state("load")
    if switch.input_value() != locale:
        if not switch.is_visible():
            page.get_by_role("button", name="Toggle navigation").tap()
            expect(switch).to_be_visible()
        here = page.url
        posted = page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/language"))
        # "load" of the page that the POST redirects back to.
        with posted, page.expect_event("load"):
            switch.select_option(locale)
        assert page.url == here
    expect(switch).to_have_value(locale)
    expect(page.locator("html")).to_have_attribute("lang", HTML_LANG[locale])


def png(path: Path, rgb: tuple[int, int, int]) -> Path:
    """A small, valid, one-colour PNG (distinct colours give distinct files)."""
    width = height = 8
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    return path
