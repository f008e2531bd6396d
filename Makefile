# Two commands do all the set-up on a fresh Debian machine with python3 and make:
#   make run    create .venv, install aster, serve the demo app on http://127.0.0.1:8000
#   make test   create .venv, install the test extras and system tools, run ruff and pytest
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test lint format bench compat sysdeps clean

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { scripts/sysdeps.sh python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-*
	@touch $@

run: $(STAMP)
	$(BIN)/aster run app:app --app-dir examples --host $(HOST) --port $(PORT)

sysdeps:
	@scripts/sysdeps.sh curl wrk chromium chromium-driver nghttp2-client

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(STAMP) sysdeps lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(MAKE) compat

# FastAPI's own tutorial tests (from the fastapi 0.165.0 sdist), run against aster
# through aster.compat, every tutorial topic; fails below 95% of the behaviour tests
# or below 95% of the tests comparing /openapi.json.
COMPAT_ARGS ?= --topics all
compat: $(STAMP)
	$(BIN)/python scripts/fastapi_compat.py --enforce $(COMPAT_ARGS)

bench: $(STAMP) sysdeps
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench --suite all $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
