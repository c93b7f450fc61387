"""The Grafana dashboard and the documented metrics and alert rules name metrics the exporters
export, and the two exporters never export one name twice."""

import json
import re

import pytest
from prometheus_client.core import Metric

from taiga.tasksqueue.observability.state_metrics import families
from taiga.tasksqueue.observability.worker_exposition import WorkerCollector
from taiga.tasksqueue.observability.worker_metrics import WorkerMetrics
from taiga.tasksqueue.ops.status import build_report
from tests.utils.processes import ROOT

pytestmark = pytest.mark.django_db

DASHBOARD = ROOT / "docs" / "grafana-dashboard.json"
DOCS = ROOT / "docs" / "observability.md"
# The exporters' families (not the tables, tasksqueue_jobattempt, or the test fixtures).
METRIC = re.compile(r"\btasksqueue_(?:queue|workers?|orphan|status)_[a-z_]+\b")
# What a family's samples add to its name, by type (a histogram is also named by its family).
SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("", "_bucket", "_sum", "_count"),
    "gauge": ("",),
}


def sample_names(metrics: list[Metric]) -> set[str]:
    return {metric.name + suffix for metric in metrics for suffix in SUFFIXES[metric.type]}


@pytest.fixture
def exported() -> tuple[set[str], set[str]]:
    state = sample_names(families(build_report()))
    worker = sample_names(list(WorkerCollector(WorkerMetrics(), list, 1).collect()))
    return state, worker


def test_the_exporters_share_no_name(exported) -> None:
    state, worker = exported
    assert state & worker == set()
    assert len(state) == 9


def test_every_metric_the_dashboard_queries_is_exported(exported) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    queries.append(dashboard["templating"]["list"][1]["query"]["query"])

    named = {name for query in queries for name in METRIC.findall(query)}

    assert named - set.union(*exported) == set()
    # Both exporters' main series are on it.
    assert {
        "tasksqueue_queue_oldest_ready_age_seconds",
        "tasksqueue_worker_jobs_finished_total",
    } <= named


def test_every_metric_the_docs_name_is_exported_and_every_state_metric_is_documented(
    exported,
) -> None:
    state, worker = exported
    documented = set(METRIC.findall(DOCS.read_text()))

    assert documented - state - worker == set()
    assert state - documented == set()
