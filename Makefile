# TaskFlow: `make run` (embedded app) and `make test` (every test) on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: venv run migrate seed test test-fast lint fmt screenshots worker beat clean

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

run: seed
	@echo ""
	@echo "  TaskFlow is starting on http://$(HOST):$(PORT)/  (Ctrl-C stops it)"
	@echo ""
	$(VENV)/bin/daphne -b $(HOST) -p $(PORT) kanban_board.asgi:application

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

clean:
	rm -rf $(VENV) .test-db.sqlite3 .test-logs staticfiles
