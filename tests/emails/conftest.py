import pytest
from django.contrib.auth.models import User


@pytest.fixture
def staff_client(client):
    """The test client, logged in as a staff user: only staff may send emails."""
    client.force_login(User.objects.create(username="staff", is_staff=True))
    return client
