# The Quick start: `make demo` and `make test` each create the virtualenv and install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PLUGINS := $(wildcard plugins/*/pyproject.toml)

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml $(PLUGINS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]' \
		$(foreach p,$(PLUGINS),-e $(dir $(p)))
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lienthong demo

test: $(STAMP) lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench plugins
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/handoffs.py
	$(BIN)/python bench/handoff_parts.py
	$(BIN)/python bench/calendar.py
	$(BIN)/python bench/tick.py --open 1000000 --overdue 10000

clean:
	rm -rf $(VENV) lienthong.db lienthong.db-wal lienthong.db-shm
