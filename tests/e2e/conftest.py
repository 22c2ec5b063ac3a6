"""A real browser (Debian's Chromium, driven by Playwright) against a live server.

The tests here are marked `e2e` and skipped, with the reason, when the
playwright package or the Chromium binary is missing, so `make test` passes on
a machine without a browser; `.ci/run` installs Chromium, so CI runs them.
Playwright's own browser download is never used: it launches the system's
Chromium (ARCHIVE_E2E_CHROMIUM, default /usr/bin/chromium).

The live server answers from another thread, so the data must be committed:
these tests run in committed transactions (`transactional_db`), with the data
migrations' rows (roles, taxonomy) restored by serialized rollback. The flush
that empties the database after each test would be refused by the audit log's
append-only triggers, so they are dropped just before it, as in
test_concurrency.py, and created again when each test starts and after the
module's last flush.

When a test fails, a screenshot of its page goes to var/e2e-screenshots/:
`with step(page, "name"):` names the step that failed; a failure outside a
step is photographed by the `new_page` teardown.
"""
import contextlib
import importlib.util
import os
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection, connections

from archive import triggers

CHROMIUM = os.environ.get("ARCHIVE_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
SCREENSHOTS = Path(django_settings.BASE_DIR) / "var" / "e2e-screenshots"
PASSWORD = "correct horse battery staple"  # tests/factories.user's default
TIMEOUT_MS = 10_000
OUTSIDE = re.compile(r"^(?!https?://(localhost|127\.0\.0\.1)(:\d+)?/)[a-z]+://")


def missing_browser():
    """Why the browser tests cannot run here, or None when they can."""
    try:
        found = importlib.util.find_spec("playwright.sync_api") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, as .ci/run does; or set ARCHIVE_E2E_CHROMIUM)"
    return None


def pytest_collection_modifyitems(config, items):
    reason = missing_browser()
    if reason is None:
        return
    for item in items:
        if item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.skip(reason=f"browser tests skipped: {reason}"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test, so a fixture's teardown knows whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


# --- the database, committed -------------------------------------------------------------------

@pytest.fixture(scope="module", autouse=True)
def append_only_again_afterwards(django_db_blocker):
    """After the module's last flush, the audit log's triggers come back.

    Module scope, because pytest-django's own autouse helper sets up the live
    server's `transactional_db` before any function fixture of ours, so its flush
    runs after all of their teardowns.
    """
    yield
    with django_db_blocker.unblock():
        triggers.create(connection)


@pytest.fixture
def committed(django_db_serialized_rollback, transactional_db, live_server, settings, tmp_path):
    """Committed data the live server can read, stored files under a temporary MEDIA_ROOT."""
    triggers.create(connection)  # present while the test runs, whatever an earlier module left
    settings.MEDIA_ROOT = tmp_path / "media"
    # The tests run with production settings, and the live server speaks plain HTTP: no redirect to https
    # (tests/conftest.py turns it off, but the server's middleware must read that). Secure cookies stay on:
    # Chromium keeps them for http://localhost.
    settings.SECURE_SSL_REDIRECT = False
    reload_middleware(live_server)
    yield live_server
    triggers.drop(connection)


def reload_middleware(live_server):
    """The live server is started once per session and its middleware read the settings then
    (SecurityMiddleware keeps SECURE_SSL_REDIRECT): build them again from this test's settings."""
    app = live_server.thread.httpd.get_app()  # StaticFilesHandler(_MediaFilesHandler(WSGIHandler()))
    while hasattr(app, "application"):
        app = app.application
    app.load_middleware()


# --- the browser -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    """One Chromium per module.

    Playwright's sync API marks an asyncio loop as running in this thread
    between its calls. Django then takes the test's own queries for async code:
    it refuses them ("called from an async context"), and it would give this
    thread other connection objects than the ones pytest-django set up (those
    carry the serialized data that each test restores). So while the browser is
    open, and only then (module scope: other modules never run so), the check is
    lifted and the thread keeps its connections.
    """
    reason = missing_browser()
    if reason:
        pytest.skip(f"browser tests skipped: {reason}")
    from playwright.sync_api import sync_playwright

    own = {alias: connections[alias] for alias in connections}
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            for alias, wrapper in own.items():
                connections[alias] = wrapper
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def new_page(browser, request):
    """new_page() -> a page in a fresh browser context (its own cookies); closed after the test.

    Pages of a failed test are photographed at teardown unless a step already did.
    """
    contexts = []

    def make():
        context = browser.new_context(accept_downloads=True, locale="en-GB", viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        # Nothing leaves the machine: pages that reach out (map tiles) get no answer instead of waiting on the network.
        context.route(OUTSIDE, lambda route: route.abort("blockedbyclient"))
        contexts.append(context)
        page = context.new_page()
        page.screenshot_taken = False
        return page

    yield make
    report = getattr(request.node, "report_call", None)
    for index, context in enumerate(contexts):
        if report is not None and report.failed:
            for page in context.pages:
                if not getattr(page, "screenshot_taken", False):
                    screenshot(page, request.node.name, f"teardown-{index}")
        context.close()


def screenshot(page, test_name, step_name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{test_name}-{step_name}")
    path = SCREENSHOTS / f"{safe}.png"
    try:
        page.screenshot(path=str(path), full_page=True)
        page.screenshot_taken = True
    except Exception as error:  # noqa: BLE001 - the test's own failure is the one to report
        print(f"could not save a screenshot to {path}: {error}")
        return None
    print(f"screenshot of the failed step: {path}")
    return path


@pytest.fixture
def step(request):
    """`with step(page, "approve"):` saves var/e2e-screenshots/<test>-<step>.png when the block fails."""

    @contextlib.contextmanager
    def run(page, name):
        try:
            yield
        except BaseException:
            screenshot(page, request.node.name, name)
            raise

    return run


# --- acting as a user --------------------------------------------------------------------------

@pytest.fixture
def sign_in():
    return _sign_in


@pytest.fixture
def sign_out():
    return _sign_out


def _sign_in(page, base_url, username, password=PASSWORD):
    from playwright.sync_api import expect

    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {username}")).to_be_visible()


def _sign_out(page):
    from playwright.sync_api import expect

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
