from django.contrib.auth.models import User

from taiga.tasksqueue.manager import manager as tqmanager


@tqmanager.task
async def count_users() -> int:
    return await User.objects.acount()


@tqmanager.task
async def no_database() -> None:
    pass
