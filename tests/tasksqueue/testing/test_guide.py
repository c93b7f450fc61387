"""The example of the guide's "HOWTO: Testing", verbatim (with `pending_jobs`), its "(...)" filled
in with the email view and task."""

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.core import mail

from taiga.emails.tasks import send_email


@pytest.mark.django_db(transaction=True)
async def test_me_success(client, tqmanager):
    # (...) nothing deferred yet

    # Check if the tasksqueue is empty
    assert len(tqmanager.jobs) == 0

    # (...) two emails sent (one fails: no such template), then a request defers a third
    await send_email.defer("ann@example.com", "no-such-template", {})
    await send_email.defer("bob@example.com", "notice", {"subject": "Hi", "message": "Bob"})
    await tqmanager.run_pending_jobs()
    # Only staff may send emails through the view.
    await sync_to_async(client.force_login)(
        await User.objects.acreate(username="staff", is_staff=True)
    )
    response = await sync_to_async(client.post)(
        "/emails/send/",
        {"email": "cy@example.com", "context": {"subject": "Hey", "message": "Cy"}},
        content_type="application/json",
    )
    assert response.status_code == 202

    # CHeck if the tasksqueue has...
    assert len(tqmanager.pending_jobs) > 0
    assert len(tqmanager.finished_jobs) > 0  # failed + succeeded
    assert len(tqmanager.failed_jobs) > 0
    assert len(tqmanager.succeeded_jobs) > 0

    # Run pending jobs
    await tqmanager.run_pending_jobs()

    # (...)
    assert tqmanager.pending_jobs == []
    assert [message.to for message in mail.outbox] == [["bob@example.com"], ["cy@example.com"]]

    # Reset all queues
    tqmanager.reset()

    # (...)
    assert tqmanager.jobs == {}
