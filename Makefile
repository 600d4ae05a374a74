# duban — the README's commands. Each target sets up .venv first (pinned, see constraints.txt).
# The first of python3.12, python3.11, python3 that runs and is 3.11 or 3.12.
PYTHON ?= $(shell for p in python3.12 python3.11 python3; do $$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null && echo $$p && break; done)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup demo test lint typecheck pytest bench browser serve clean

$(STAMP): pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "duban needs Python 3.11 or 3.12 (durable-rules 2.0.28 does not build on 3.13): install one, or set PYTHON=/path/to/python3.12"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/duban demo

serve: setup
	$(BIN)/duban serve

test: setup browser lint typecheck pytest

# Debian's Chromium, ChromeDriver and a CJK font for the browser tests (tests/engine/app/web/test_browser.py).
# Installed with apt where missing and possible (root on Debian); elsewhere those tests skip, except under CI.
BROWSER_PACKAGES := chromium chromium-driver fonts-noto-cjk
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing $(BROWSER_PACKAGES) for the browser tests"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null; }; \
	else echo "browser tests will be skipped: install Debian's chromium and chromium-driver to run them"; fi

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy config engine rules notifications

pytest: setup
	$(BIN)/pytest -n 2

# Not part of `make test`: minutes and ~1 GB. SIZE=city|province|national (default national);
# DB=postgresql+psycopg://… runs every side on PostgreSQL (fresh schemas in that database).
SIZE ?= national
DB ?=
bench: setup
	$(BIN)/python scripts/bench.py --size $(SIZE) $(if $(DB),--db $(DB))

clean:
	rm -rf $(VENV) out duban.db duban.db-wal duban.db-shm
