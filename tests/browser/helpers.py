"""Plain helpers of the browser tests, importable from anywhere (conftest.py skips the folder on
import when there is no Chromium; this module does not)."""

import os
import shutil
from pathlib import Path

from playwright.sync_api import Page

# The password of the users the fixtures create.
PASSWORD = "browser-test-password"

NO_CHROMIUM = (
    "browser tests need Debian's chromium package and none was found (/usr/bin/chromium, or "
    "chromium on PATH): `make setup` installs it as root, or run `sudo apt-get install chromium`"
)


def find_chromium() -> str | None:
    """Debian's /usr/bin/chromium, else a `chromium` on PATH; None when there is neither."""
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def log_in(page: Page, base_url: str, username: str, password: str = PASSWORD) -> Page:
    """Submit the admin's login form at `base_url` and wait for the answer. Asserts nothing: the
    page then shows the admin index, or the form again with Django's error."""
    page.goto(f"{base_url}/admin/login/?next=/admin/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    return page


def save_screenshot(page: Page, path: Path | str, *, full_page: bool = True) -> Path:
    """Save what `page` shows as a PNG at `path` (its folders are made), and return the path.
    Animations are stopped and the caret hidden, so that the same page gives the same picture."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=path, full_page=full_page, animations="disabled", caret="hide")
    return path
