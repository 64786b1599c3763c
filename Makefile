# Portal: the commands the README names.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORTAL := $(VENV)/bin/portal
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test test-sqlite test-postgresql setup assets db demo translations i18n lint bench bench-voteday clean

## run: set everything up and serve the portal on SQLite with demo data
run: setup db demo
	@echo "Portal is starting on http://$(HOST):$(PORT)/"
	$(PORTAL) run --host $(HOST) --port $(PORT)

## test: set up and run the whole suite (SQLite, then PostgreSQL when PORTAL_TEST_DATABASE_URL is set)
test: setup test-sqlite test-postgresql

test-sqlite:
	$(PY) -m pytest $(PYTEST_ARGS)

test-postgresql:
	@if [ -n "$$PORTAL_TEST_DATABASE_URL" ]; then \
		echo "== the suite again on PostgreSQL"; \
		PORTAL_TEST_BACKEND=postgresql $(PY) -m pytest --ignore=tests/core --ignore=tests/browser $(PYTEST_ARGS); \
	else \
		echo "== PORTAL_TEST_DATABASE_URL is not set: PostgreSQL run skipped"; \
	fi

setup: $(STAMP) translations assets

## assets: install Leaflet and axe-core from the npm registry (package-lock.json); Leaflet into static/vendor/
## (axe-core stays in node_modules/: only the browser tests read it)
assets: static/vendor/leaflet/leaflet.js

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

static/vendor/leaflet/leaflet.js: node_modules/.installed
	rm -rf static/vendor/leaflet
	mkdir -p static/vendor/leaflet
	cp -R node_modules/leaflet/dist/. static/vendor/leaflet/
	@touch $@

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,redis]"
	@touch $(STAMP)

translations: $(STAMP)
	$(VENV)/bin/pybabel compile -d translations --statistics >/dev/null

db: setup
	$(PORTAL) db upgrade
	$(PORTAL) geo load

demo: db
	$(PORTAL) demo

## i18n: extract strings and update the catalogs (then translate es/ and run make)
i18n: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k ngettext:1,2 --no-location --sort-output -o translations/messages.pot .
	$(VENV)/bin/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete

lint: $(STAMP)
	$(VENV)/bin/ruff check portal tests benchmarks

bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[test,bench]"
	$(PY) benchmarks/tally.py

## bench-voteday: the vote-day load benchmark on SQLite, then on PostgreSQL when
## PORTAL_BENCH_DATABASE_URL names a database it may wipe (see README "Vote day")
bench-voteday: setup
	$(PY) benchmarks/voteday.py --backend sqlite $(BENCH_ARGS)
	@if [ -n "$$PORTAL_BENCH_DATABASE_URL" ]; then \
		$(PY) benchmarks/voteday.py --backend postgresql $(BENCH_ARGS); \
	else \
		echo "== PORTAL_BENCH_DATABASE_URL is not set: PostgreSQL run skipped"; \
	fi

clean:
	rm -rf $(VENV) instance .pytest_cache node_modules static/vendor
