# The hub's commands. `make run` serves the demo; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HUB_PORT ?= 5000
GOVUK := hub/static/govuk
export HUB_PORT

.PHONY: run test install assets system-deps lint bench mutation screenshots clean

run: install assets
	$(BIN)/hub db upgrade
	$(BIN)/hub seed-demo
	$(BIN)/gunicorn -c deploy/gunicorn.conf.py --bind 127.0.0.1:$(HUB_PORT) wsgi:app

test: system-deps install assets lint
	$(BIN)/python -m pytest

install: $(BIN)/.installed

# Reinstall when the dependencies change.
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# GOV.UK Frontend from the npm registry, copied into the static folder (not committed).
assets: $(GOVUK)/.installed

$(GOVUK)/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	rm -rf $(GOVUK) && mkdir -p $(GOVUK)
	cp node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.css \
	   node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js $(GOVUK)/
	cp -r node_modules/govuk-frontend/dist/govuk/assets $(GOVUK)/assets
	touch $@

# PostgreSQL and Chromium from Debian, for the tests that use the real things.
system-deps:
	bash scripts/install-system-deps.sh

lint: install
	$(BIN)/ruff check hub audit tests bench scripts
	$(BIN)/bandit --quiet --recursive hub audit
	$(BIN)/lint-imports --no-cache  # a stale cache once hid a broken contract

# Every benchmark in turn (about 90 minutes on 2 cores, 30 of them bench_http); each prints
# its numbers against its target. bench_policy compares with pycasbin, installed for the
# benchmark only; bench_http loads gunicorn with Debian's wrk (system-deps).
bench: system-deps install
	$(BIN)/python -m pip install --quiet casbin==1.43.0
	for b in merkle policy audit audit_search http; do $(BIN)/python bench/bench_$$b.py || exit 1; done

# Mutation testing of the modules whose mistakes would leak or lose data (not part of
# `make test`; see bench/RESULTS.md). SQLite only; one mutant at a time unless
# MUTATION_CHILDREN=2. mutmut is pinned: its mutants, and so the scores, change with its
# version. MODULES=hub/access.py runs one.
mutation: install assets
	$(BIN)/python -m pip install --quiet mutmut==3.8.1
	$(BIN)/python scripts/mutation.py $(MODULES)

# Each journey's key pages photographed in Debian's Chromium, into docs/screenshots/.
screenshots: system-deps install assets
	$(BIN)/python -m tests.browser.screenshots docs/screenshots

clean:
	rm -rf $(VENV) node_modules $(GOVUK) .pytest_cache build/mutation
