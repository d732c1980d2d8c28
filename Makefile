# TaskFlow: `make run` (embedded app) and `make test` (every test) on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# `make run` installs the runtime only (requirements.txt); tests, lint and the bench add the
# tooling (requirements-dev.txt). Each stamp records the checksum of what it installed.
STAMP     := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)
DEV_STAMP := $(VENV)/.installed-dev-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: venv venv-dev run dev run-scaled migrate seed static test test-fast lint fmt screenshots worker beat clean bench bench-quick bench-search

venv: $(STAMP)

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "TaskFlow needs Python 3.11+")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@rm -f $(VENV)/.installed-[0-9]*
	@touch $(STAMP)

venv-dev: $(DEV_STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-dev-*
	@touch $(DEV_STAMP)

migrate: venv
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

# Hashed, compressed static files (served with far-future cache headers once DEBUG is off).
static: venv
	$(PY) manage.py collectstatic --noinput -v0

# Production-safe by default: DEBUG off (styled error pages, no debug page), the secret key
# generated once into the git-ignored .secret_key unless DJANGO_SECRET_KEY is set, and
# cookies without the Secure flag because this serves plain HTTP (behind TLS, set
# DJANGO_SECURE_COOKIES=1). Any of these can be overridden from the environment.
run: export DJANGO_DEBUG ?= 0
run: export DJANGO_SECRET_KEY_FILE ?= .secret_key
run: export DJANGO_SECURE_COOKIES ?= 0
run: seed static
	@echo ""
	@echo "  TaskFlow is starting on http://$(HOST):$(PORT)/  (Ctrl-C stops it)"
	@echo ""
	$(PY) -m kanban_board.serve -b $(HOST) -p $(PORT)

# Development: DEBUG on (Django's debug pages) and auto-reload on code changes.
dev: export DJANGO_DEBUG = 1
dev: seed
	$(PY) manage.py runserver $(HOST):$(PORT)

# Scaled mode on one machine: daphne on $(PORT) and $(PORT2), a Celery worker and beat, all on
# REDIS_URL + DATABASE_URL (default: the local Redis DB 0 and PostgreSQL database taskflow).
PORT2  ?= 8001
run-scaled: venv static
	$(PY) scripts/run_scaled.py --host $(HOST) --ports "$(PORT) $(PORT2)"

test: venv-dev
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: venv-dev
	$(PY) -m pytest -m "not browser and not worker and not fault" $(PYTEST_ARGS)

lint: venv-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: venv-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

screenshots: venv-dev
	TASKFLOW_SCREENSHOTS=docs/screenshots $(PY) -m pytest -m browser -k screenshot $(PYTEST_ARGS)

worker: venv
	$(VENV)/bin/celery -A kanban_board worker --loglevel=INFO

beat: venv
	$(VENV)/bin/celery -A kanban_board beat --loglevel=INFO

# Realtime benchmark (needs Redis and PostgreSQL; see bench/cli.py and README "Performance").
# BENCH_ARGS passes options, e.g. make bench BENCH_ARGS="--rooms 20 --json-out bench.json".
# `bench` writes docs/bench.png. `bench-quick` (CI) enforces the SQL-per-message guard test and
# "no silent loss" (exit 1); the ratios are printed, not enforced.
bench: venv-dev
	$(PY) -m bench $(BENCH_ARGS)

bench-quick: venv-dev
	$(PY) -m pytest -q -p no:randomly messaging/tests/test_hot_path.py -k "costs_at_most"
	$(PY) -m bench --quick $(BENCH_ARGS)

# Search benchmark (issue 14): PostgreSQL, 1,000,000 messages; see bench/search.py.
bench-search: venv-dev
	$(PY) manage.py bench_search $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .test-db-*.sqlite3* .test-logs staticfiles
