"""The state exporter and the health endpoints, for a project's URLconf to include:

    path("", include("taiga.tasksqueue.observability.urls"))

gives /metrics (TASKSQUEUE_METRICS_PATH), /health/live and /health/ready.
"""

from django.urls import path

from taiga.tasksqueue.conf import tq_settings
from taiga.tasksqueue.observability import views

# Read when the project's URLconf is first loaded, as any URL is.
urlpatterns = [
    path(tq_settings.TASKSQUEUE_METRICS_PATH, views.metrics, name="tasksqueue-metrics"),
    path("health/live", views.live, name="tasksqueue-health-live"),
    path("health/ready", views.ready, name="tasksqueue-health-ready"),
]
