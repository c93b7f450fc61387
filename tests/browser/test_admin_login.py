"""Logging in to Django's admin through its form, in a real browser."""

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from tests.browser.helpers import save_screenshot

# The live server's thread sees only committed rows: the users the tests create.
pytestmark = pytest.mark.django_db(transaction=True)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_a_superuser_logs_in_and_sees_the_admin_index(admin_page: Page, superuser: User, tmp_path):
    # admin_page submitted the login form and landed on /admin/.
    expect(admin_page.get_by_role("heading", name="Site administration")).to_be_visible()
    expect(admin_page.locator("#user-tools strong")).to_have_text(superuser.username)
    expect(admin_page.get_by_role("link", name="Users", exact=True)).to_be_visible()

    shot = save_screenshot(admin_page, tmp_path / "images" / "admin-index.png")
    assert shot == tmp_path / "images" / "admin-index.png"
    assert shot.read_bytes().startswith(PNG_SIGNATURE)


def test_a_wrong_password_shows_djangos_error(
    admin_login, superuser: User, live_server: LiveServer
):
    page: Page = admin_login(superuser.username, "not-the-password")

    expect(page).to_have_url(f"{live_server.url}/admin/login/?next=/admin/")
    expect(page.locator(".errornote")).to_contain_text(
        "Please enter the correct username and password for a staff account."
    )
    expect(page.get_by_role("heading", name="Site administration")).to_have_count(0)


def test_a_staff_user_sees_only_what_their_permissions_allow(admin_login, make_staff_user):
    operator = make_staff_user("operator", ["auth.view_user"])

    page: Page = admin_login(operator.username)

    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    expect(page.locator("#user-tools strong")).to_have_text("operator")
    expect(page.get_by_role("link", name="Users", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Groups", exact=True)).to_have_count(0)
