from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("emails/", include("taiga.emails.urls")),
    path("users/", include("taiga.users.urls")),
    # /metrics, /health/live and /health/ready (docs/observability.md)
    path("", include("taiga.tasksqueue.observability.urls")),
]
