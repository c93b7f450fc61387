"""Logged-in clients of the dashboard's tests."""

from django.contrib.auth.models import Permission, User
from django.test import Client


def staff(*permissions: str) -> Client:
    """A client logged in as a staff user with these permissions (codenames) and no others."""
    user = User.objects.create_user("operator", password="pw", is_staff=True)
    for codename in permissions:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(user)
    return client
