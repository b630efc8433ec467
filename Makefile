# Verity: `make run` serves the demo on the embedded defaults; `make test` runs the suite on Postgres + Redis.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/verity
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15
PYTEST_ARGS ?=
# Three on two cores: many tests wait on subprocesses and sockets (workers, servers, browsers), so a
# third pytest worker keeps both cores busy.
PYTEST_WORKERS ?= 3

RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test suite test-fast lint format schema clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --quiet -e '.[dev]'
	touch $@ $(RUN_STAMP)

run: $(RUN_STAMP)
	HOST=$(HOST) PORT=$(PORT) devtools/run-demo.sh

# Browser tests drive Debian's Chromium through Playwright (no browser download); install it if missing.
CHROMIUM ?= /usr/bin/chromium
$(CHROMIUM):
	apt-get install -y chromium || (apt-get update && apt-get install -y chromium)

# tests/docs runs docs/operations.md's walk as written: curl, and jq to pick ids out of the answers.
JQ ?= /usr/bin/jq
$(JQ):
	apt-get install -y jq || (apt-get update && apt-get install -y jq)

# Lint first (half a minute; a style or type error fails fast), then the suite. Run side by side on two
# cores, mypy slowed the suite by more than lint takes alone (measured: 7.5 min against 5.7 min).
test: $(DEV_STAMP) $(CHROMIUM) $(JQ)
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory suite

# The whole suite alone (no lint).
suite: $(DEV_STAMP) $(CHROMIUM) $(JQ)
	DEBUG=true DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
		CHROMIUM_PATH=$(CHROMIUM) $(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The inner loop: the suite without the `slow` tests (browser, real worker, faults, benchmarks, the
# operations walk) and without lint; `make test` still runs everything.
test-fast: $(DEV_STAMP)
	DEBUG=true DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
		$(BIN)/pytest -n $(PYTEST_WORKERS) -m "not slow" $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=true $(BIN)/mypy .
	# Against the server's maintenance database (it always exists; the test database may not yet).
	DEBUG=true DATABASE_URL=$(dir $(TEST_DATABASE_URL))postgres $(BIN)/python manage.py makemigrations --check --dry-run
	DEBUG=true $(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null
	DEBUG=true $(BIN)/python -m devtools.check_openapi

format: $(DEV_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schema: $(RUN_STAMP)
	DEBUG=true $(BIN)/python manage.py spectacular --file docs/openapi.yaml

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis

# The ingestion benchmark (docs/performance.md): gunicorn + Postgres + Redis on loopback, ~2-3 minutes.
# Creates and drops its own database (BENCH_DB); pass options with BENCH_ARGS="--batches 100 ...".
BENCH_DB ?= verity_bench
BENCH_ARGS ?=
.PHONY: bench-ingest
bench-ingest: $(DEV_STAMP)
	@$(BIN)/python -c "import gunicorn" 2>/dev/null || $(BIN)/pip install --quiet --quiet "gunicorn>=22,<24"
	$(BIN)/python -m bench.ingest --db-name $(BENCH_DB) $(BENCH_ARGS)

# The verification benchmark (docs/performance.md): outcomes/s through the default rule set against 10^5
# and 10^6 outcomes of history, beside a plain read-and-update ceiling; ~5 minutes. Creates and drops its
# own database on TEST_DATABASE_URL's server; options: BENCH_VERIFY_ARGS="--sizes 100000 --working-set 5000".
BENCH_VERIFY_ARGS ?=
bench-verify: $(DEV_STAMP)
	$(BIN)/python -m bench.verify --server-url $(TEST_DATABASE_URL) $(BENCH_VERIFY_ARGS)

# The settlement close benchmark (docs/performance.md): rate 10^4, 10^5 and 10^6 billable outcomes of
# 10,000 contracts into draft invoices, beside one SQL aggregate; then push 1,000 invoices to the local
# Stripe-compatible server; ~5-10 minutes. Own database on TEST_DATABASE_URL's server, like bench-verify;
# options: BENCH_CLOSE_ARGS="--sizes 10000,100000 --push 100".
BENCH_CLOSE_ARGS ?=
bench-close: $(DEV_STAMP)
	$(BIN)/python -m bench.close --server-url $(TEST_DATABASE_URL) $(BENCH_CLOSE_ARGS)
.PHONY: bench-verify bench-close

# What monthly partitions of the raw inbox would cost (docs/scaling.md): a lone event's insert and a raw
# event read by id as months of history accumulate, one table against monthly partitions; ~3 minutes.
# Own database on TEST_DATABASE_URL's server, like bench-verify.
BENCH_PARTITIONS_ARGS ?=
bench-partitions: $(DEV_STAMP)
	$(BIN)/python -m bench.partitions --server-url $(TEST_DATABASE_URL) $(BENCH_PARTITIONS_ARGS)
.PHONY: bench-partitions

# The portal benchmark (docs/performance.md, "Portal"): the explorer, trail, review queue, invoices and
# dashboard pages, and the customer portal's overview, outcome list and trail, over 10^5 and 10^6
# outcomes; ~2 minutes. Own database on TEST_DATABASE_URL's server.
BENCH_PORTAL_ARGS ?=
bench-portal: $(DEV_STAMP)
	$(BIN)/python -m bench.portal --server-url $(TEST_DATABASE_URL) $(BENCH_PORTAL_ARGS)
.PHONY: bench-portal

# The outbound webhooks benchmark (docs/performance.md, "Outbound webhooks"): events/s from the outbox to
# a loopback receiver that verifies each signature, beside plain signed POSTs from one process to the same
# receiver; ~1 minute. Own database on TEST_DATABASE_URL's server; options: BENCH_WEBHOOKS_OUT_ARGS="--events 20000".
BENCH_WEBHOOKS_OUT_ARGS ?=
bench-webhooks-out: $(DEV_STAMP)
	$(BIN)/python -m bench.webhooks_out --server-url $(TEST_DATABASE_URL) $(BENCH_WEBHOOKS_OUT_ARGS)
.PHONY: bench-webhooks-out

# The soak (docs/performance.md, "Soak"): a few minutes of mixed traffic (signed webhooks with 20%
# duplicates, API reads, contracts terminated midway and their period closed by beat) against gunicorn,
# a Celery worker and beat on loopback; then the database is checked (nothing lost or doubled) and the
# memory trend judged; ~6-8 minutes. Own database (SOAK_DB, created and dropped) and Redis database;
# options: SOAK_ARGS="--seconds 600 --rate 40".
SOAK_DB ?= verity_soak_bench
SOAK_BROKER_URL ?= redis://127.0.0.1:6379/12
SOAK_ARGS ?=
.PHONY: bench-soak
bench-soak: $(DEV_STAMP)
	$(BIN)/python -m bench.soak --db-name $(SOAK_DB) --broker-url $(SOAK_BROKER_URL) $(SOAK_ARGS)
