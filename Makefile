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

.PHONY: run test lint format bench compat sysdeps extensions clean

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { scripts/sysdeps.sh python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-*
	@touch $@

run: $(STAMP)
	$(BIN)/aster run app:app --app-dir examples --host $(HOST) --port $(PORT)

sysdeps:
	@scripts/sysdeps.sh curl wrk chromium chromium-driver nghttp2-client postgresql redis-server

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Extensions by other people (tests/test_extensions.py), outside the venv in .extensions/.
extensions: $(STAMP)
	$(BIN)/python -m tests.extension_support

test: $(STAMP) sysdeps lint extensions
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(MAKE) compat

# FastAPI 0.165's and Starlette 1.10's own test suites (from their pinned sdists), run
# against aster through aster.compat with pytest -n 2 (scripts/compat_run.py; per-module
# report in .fastapi-sdist/report.md). Fails below COMPAT_MIN_FASTAPI or COMPAT_MIN_STARLETTE
# of either suite (and below 95% of FastAPI's tutorial behaviour or /openapi.json tests), and
# prints how far each suite is from COMPAT_TARGET, issue 10's bar, which both suites meet now:
# the minimums are the target.
COMPAT_TARGET ?= 0.98
COMPAT_MIN_FASTAPI ?= 0.98
COMPAT_MIN_STARLETTE ?= 0.98
COMPAT_ARGS ?=
compat: $(STAMP)
	$(BIN)/python scripts/compat_run.py --enforce --target $(COMPAT_TARGET) \
		--min-fastapi $(COMPAT_MIN_FASTAPI) --min-starlette $(COMPAT_MIN_STARLETTE) $(COMPAT_ARGS)

bench: $(STAMP) sysdeps
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench --suite all $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .extensions
