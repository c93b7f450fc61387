"""Browser tests: Playwright for Python driving Debian's `chromium` headless against pytest-django's
`live_server` (a real server thread on loopback).

- `browser`: one headless Chromium for the whole folder; `page`: a fresh context (cookies, storage)
  and page per test, 1280x800, 10 s timeouts.
- `superuser`, `make_staff_user(username, permissions)`: accounts whose password is
  `helpers.PASSWORD`; `admin_login(username, password=PASSWORD)` submits the admin's login form
  on the live server; `admin_page` is a page logged in as `superuser`, on the admin index.
- `helpers.save_screenshot(page, path)`: a PNG at `path` (the docs keep theirs in docs/images/).

A test that uses the live server needs `@pytest.mark.django_db(transaction=True)`: the server's
thread has its own connection, which only sees committed rows.

Without a `chromium` (`make setup` installs Debian's package when it can), the whole folder is
skipped with one line saying why. Under CI (`CI=true`) its tests fail instead, so that CI cannot
pass without running them.
"""

from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

import pytest
from django.contrib.auth.models import Permission, User
from playwright.sync_api import Browser, Page, Playwright, ViewportSize, expect, sync_playwright
from pytest_django.live_server_helper import LiveServer

from tests.browser.helpers import NO_CHROMIUM, PASSWORD, find_chromium, log_in, under_ci

CHROMIUM = find_chromium()

VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
TIMEOUT_MS = 10_000


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Without Chromium, every test of the folder is skipped before its fixtures are set up. The
    skips are raised here, not in a fixture (pytest reports those at each test's line), so they
    share one location and `-ra` reports them in one line, however the tests were selected. Under
    CI they fail instead."""
    if CHROMIUM is None:
        if under_ci():
            pytest.fail(f"CI=true: {NO_CHROMIUM}", pytrace=False)
        pytest.skip(NO_CHROMIUM)


@pytest.fixture(scope="package")
def chromium_path() -> str:
    """The Chromium to drive (pytest_runtest_setup saw that there is one)."""
    assert CHROMIUM is not None
    return CHROMIUM


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    """Playwright's sync API, started once for the folder.

    Package-scoped, not session-scoped: for as long as it runs, Playwright marks its asyncio loop
    as running in the test thread (between calls too), so a later async test could not start its
    own loop. Stopped when the folder's last test is done, it leaves the rest of the suite as it
    was.

    For the same reason Django's async-safety check would refuse the ORM calls the tests make in
    their own thread (creating users, the flush after a transactional test): these calls are
    synchronous and the loop is not really running there, so the check is turned off for that
    time only, as Playwright documents for Django.
    """
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            expect.set_options(timeout=TIMEOUT_MS)
            yield playwright


@pytest.fixture(scope="package")
def browser(playwright: Playwright, chromium_path: str) -> Iterator[Browser]:
    """One headless Chromium for the folder. `--no-sandbox`: Chromium's sandbox refuses to run as
    root (containers, CI), and the pages are the tests' own, on loopback."""
    browser = playwright.chromium.launch(
        executable_path=chromium_path, headless=True, args=["--no-sandbox"]
    )
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a context of its own: no cookie or session leaks from one test to the next."""
    context = browser.new_context(viewport=VIEWPORT, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def superuser(django_user_model: type[User]) -> User:
    """A superuser `admin` whose password is PASSWORD."""
    return django_user_model.objects.create_superuser("admin", "admin@example.com", PASSWORD)


class MakeStaffUser(Protocol):
    def __call__(self, username: str, permissions: Iterable[str] = ()) -> User: ...


@pytest.fixture
def make_staff_user(django_user_model: type[User]) -> MakeStaffUser:
    """`make_staff_user("ops", ["auth.view_user"])`: a staff user (not a superuser) whose password
    is PASSWORD, with the permissions named `app_label.codename`."""

    def make(username: str, permissions: Iterable[str] = ()) -> User:
        user = django_user_model.objects.create_user(
            username, f"{username}@example.com", PASSWORD, is_staff=True
        )
        for name in permissions:
            app_label, _, codename = name.partition(".")
            try:
                permission = Permission.objects.get(
                    content_type__app_label=app_label, codename=codename
                )
            except Permission.DoesNotExist:
                raise LookupError(f"no permission {name!r} (app_label.codename)") from None
            user.user_permissions.add(permission)
        return user

    return make


@pytest.fixture
def admin_login(page: Page, live_server: LiveServer) -> Callable[..., Page]:
    """`admin_login(username, password=PASSWORD)`: `helpers.log_in()` on the live server, with
    `page`, which it returns."""

    def login(username: str, password: str = PASSWORD) -> Page:
        return log_in(page, live_server.url, username, password)

    return login


@pytest.fixture
def admin_page(admin_login: Callable[..., Page], superuser: User, live_server: LiveServer) -> Page:
    """A page logged in to the admin as `superuser`, on the admin index."""
    page = admin_login(superuser.username)
    expect(page).to_have_url(f"{live_server.url}/admin/")
    return page
