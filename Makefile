# TaskFlow: `make run` (embedded app) and `make test` (every test) on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: venv run dev run-scaled migrate seed test test-fast lint fmt screenshots worker beat clean bench bench-quick

venv: $(STAMP)

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "TaskFlow needs Python 3.11+")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

migrate: venv
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

# Production-safe by default: DEBUG off (styled error pages, no debug page), the secret key
# generated once into the git-ignored .secret_key unless DJANGO_SECRET_KEY is set, and
# cookies without the Secure flag because this serves plain HTTP (behind TLS, set
# DJANGO_SECURE_COOKIES=1). Any of these can be overridden from the environment.
run: export DJANGO_DEBUG ?= 0
run: export DJANGO_SECRET_KEY_FILE ?= .secret_key
run: export DJANGO_SECURE_COOKIES ?= 0
run: seed
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
run-scaled: venv
	$(PY) scripts/run_scaled.py --host $(HOST) --ports "$(PORT) $(PORT2)"

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: venv
	$(PY) -m pytest -m "not browser and not worker and not fault" $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

screenshots: venv
	TASKFLOW_SCREENSHOTS=docs/screenshots $(PY) -m pytest -m browser -k screenshot $(PYTEST_ARGS)

worker: venv
	$(VENV)/bin/celery -A kanban_board worker --loglevel=INFO

beat: venv
	$(VENV)/bin/celery -A kanban_board beat --loglevel=INFO

# Realtime benchmark (needs Redis and PostgreSQL; see messaging/management/commands/bench_realtime.py).
# BENCH_ARGS passes options, e.g. make bench BENCH_ARGS="--clients 50 --json-out bench.json".
bench: venv
	$(PY) manage.py bench_realtime $(BENCH_ARGS)

bench-quick: venv
	$(PY) manage.py bench_realtime --quick $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .test-db-*.sqlite3* .test-logs staticfiles
