# `make run`: the product on the embedded default (SQLite, jobs in-process) with a demo tenant.
# `make test`: the whole suite (SQLite always; PostgreSQL and Redis when reachable, required under CI).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000

.PHONY: run test install install-dev translations lint bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/activate
	$(BIN)/pip install --quiet -e .
	$(MAKE) translations

install-dev: $(BIN)/activate
	$(BIN)/pip install --quiet -e ".[dev]"
	$(MAKE) translations

translations:
	$(BIN)/pybabel compile --domain messages --directory repairqc/translations --use-fuzzy --statistics 2>&1 | tail -1

run: install
	REPAIRQC_ENV=development SESSION_COOKIE_SECURE=false MAIL_BACKEND=console PREFERRED_URL_SCHEME=http \
	SMS_BACKEND=console SERVER_PORT=$(PORT) $(BIN)/flask --app repairqc demo
	# the periodic jobs (inspections, escalations, reports) in-process beside the server, stopped with it
	export REPAIRQC_ENV=development SESSION_COOKIE_SECURE=false MAIL_BACKEND=console PREFERRED_URL_SCHEME=http \
	SMS_BACKEND=console SERVER_PORT=$(PORT); $(BIN)/flask --app repairqc cron & cron=$$!; \
	trap 'kill $$cron 2>/dev/null' EXIT INT TERM; $(BIN)/flask --app repairqc run --host 127.0.0.1 --port $(PORT)

test: install-dev
	$(BIN)/ruff check .
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install-dev
	$(BIN)/python bench/tenancy.py

clean:
	rm -rf $(VENV) instance build *.egg-info
