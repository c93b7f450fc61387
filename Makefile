# `make run` and `make test` are the two commands a newcomer needs (see README, Quick start).
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev

.PHONY: setup run test lint typecheck format bench requirements db-status db-stop clean

$(STAMP): requirements/dev.txt
	@if [ ! -x $(PY) ]; then \
		python_bin=$$(scripts/find-python) || exit 1; \
		echo "setup: creating $(VENV) with $$python_bin"; \
		$$python_bin -m venv $(VENV) || exit 1; \
	fi
	@echo "setup: upgrading pip in $(VENV)"
	@$(PY) -m pip install --quiet --upgrade pip
	@echo "setup: installing the pinned requirements (requirements/dev.txt; about 30 s the first time)"
	@$(PY) -m pip install --quiet -r requirements/dev.txt
	@touch $(STAMP)
	@echo "setup: done"

# The browser tests drive Debian's chromium, the multi-host tests Debian's pgbouncer: each is
# installed here when missing and apt-get is usable, else one line says how (the tests then skip).
# Silent when they are there.
setup: $(STAMP)
	@scripts/ensure-chromium
	@scripts/ensure-pgbouncer

run: setup
	@scripts/run-dev

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy .

test: lint typecheck
	$(VENV)/bin/pytest

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup
	$(PY) -m benchmarks

# Regenerate the pinned requirement files after changing pyproject.toml.
requirements: setup
	$(VENV)/bin/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url \
		--no-emit-find-links pyproject.toml -o requirements/base.txt
	$(VENV)/bin/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url \
		--no-emit-find-links --extra dev pyproject.toml -o requirements/dev.txt

# Exits 3 when the server does not run; the line says so either way.
db-status: setup
	-@$(PY) manage.py embeddeddb status

db-stop: setup
	$(PY) manage.py embeddeddb stop

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
