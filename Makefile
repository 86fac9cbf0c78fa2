# The Quick start: `make demo` and `make test` each create the virtualenv and install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PLUGINS := $(wildcard plugins/*/pyproject.toml)

.PHONY: demo test test-pg lint bench images report-images forms-images clean wheel-check

$(STAMP): pyproject.toml $(PLUGINS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,postgres]' \
		$(foreach p,$(PLUGINS),-e $(dir $(p)))
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lienthong demo

# Then the suite again on PostgreSQL (.ci/pg starts a server of its own) where one is installed,
# or where CI_PG=1 asks for it (.ci/pg installs it); elsewhere it says it skipped it.
test: $(STAMP) lint
	$(BIN)/pytest
	@if [ -n "$(CI_PG)" ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		PYTHON=$(BIN)/python .ci/pg; \
	else \
		echo "PostgreSQL: skipped (no server installed here; CI_PG=1 make test installs one)"; \
	fi

test-pg: $(STAMP)
	PYTHON=$(BIN)/python .ci/pg

# The wheel alone, installed in a fresh virtualenv, runs the first day from an empty folder
# (demo, tick, queue, dossier show, backup, audit verify): .ci/wheel-check. CI runs it after test.
wheel-check:
	PYTHON=$(PYTHON) .ci/wheel-check

lint: $(STAMP)
	$(BIN)/ruff check src tests bench plugins
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/handoffs.py
	$(BIN)/python bench/handoff_parts.py
	$(BIN)/python bench/calendar.py
	$(BIN)/python bench/tick.py --open 1000000 --overdue 10000

# The pictures in docs/images/rendered/ (docs/designers.md, "See it"): every process, and one
# dossier of the demo (seed 7) in progress on 10/02/2026 at 09:00.
IMAGES_DB := $(or $(TMPDIR),/tmp)/lienthong-images.db
images: $(STAMP)
	mkdir -p docs/images/rendered
	for f in processes/*.bpmn; do \
		$(BIN)/lienthong render $$f --out docs/images/rendered/$$(basename $$f .bpmn).svg || exit 1; \
	done
	$(BIN)/lienthong demo --db $(IMAGES_DB) > /dev/null
	$(BIN)/lienthong dossier diagram 000.00.01.H29-260204-0009 --db $(IMAGES_DB) \
		--at 2026-02-10T09:00+07:00 --out docs/images/rendered/dossier-khai-sinh-in-progress.svg
	$(MAKE) report-images

# The HTML report of the same demo's five weeks (docs/reports.md): one chart as PNG, and the
# page as headless Chromium shows it.
REPORT_HTML := $(or $(TMPDIR),/tmp)/lienthong-report-period.html
report-images: $(STAMP)
	mkdir -p docs/images/reports
	$(BIN)/lienthong report period --db $(IMAGES_DB) --from 2026-02-02 --to 2026-03-08 \
		--format html --out $(REPORT_HTML)
	$(BIN)/python -c "from lienthong import reports; from lienthong.reports import charts; \
		p = reports.Period.days('2026-02-02', '2026-03-08'); \
		weeks = [(w, reports.units('$(IMAGES_DB)', period=w)) for w in charts.weeks_of(p, None, None)]; \
		c = charts.late_per_week(weeks, p); \
		open('docs/images/reports/late-per-week.png', 'wb').write(charts.render_png(c))"
	chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir=$$(mktemp -d) --window-size=1200,1600 \
		--screenshot=docs/images/reports/report-period.png file://$(REPORT_HTML)

# The pictures in docs/images/forms/ (docs/forms.md): the first page of each form of Circular
# 03/2025 of the demo (seed 7), at 60 dpi. Needs pdftoppm (poppler-utils).
FORMS_DB := $(or $(TMPDIR),/tmp)/lienthong-forms.db
forms-images: $(STAMP)
	$(BIN)/python tools/forms_images.py --db $(FORMS_DB) --out docs/images/forms

clean:
	rm -rf $(VENV) lienthong.db lienthong.db-wal lienthong.db-shm
