"""The operators' dashboard: the admin's "Tasks queue" section (see docs/dashboard.md).

jobs.py       the jobs list (filters, search, capped counts) and the job page
job_page.py   what a job's page shows: masked arguments, events, runs, a Django task's result
overview.py   the overview: the report behind `tasksqueue status`, as a page
paging.py     a paginator that never counts more rows than it shows
"""

from taiga.tasksqueue.admin import jobs  # noqa: F401  (registers the dashboard's pages)
