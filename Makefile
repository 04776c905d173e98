# The two commands: `make run` serves the tracker with demo data, `make test` runs every test.
# Both set up everything they need on a fresh machine.
VENV   ?= .venv
PYTHON ?= python3
PORT   ?= 5000
HOST   ?= 127.0.0.1
# pytest-xdist workers: one per CPU. Tests that stop a shared server are marked `serial` and run after.
TEST_WORKERS ?= auto
FLASK   = $(VENV)/bin/flask --app app

.PHONY: run test test-fast install migrate demo browser-deps pdf-deps postgres memcached redis alertmanager bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

migrate: install
	$(FLASK) db upgrade

demo: migrate
	$(FLASK) demo load

run: pdf-deps demo
	@echo ""
	@echo "  Data-loss tracker on http://$(HOST):$(PORT)/   (sign in with the demo login above; Ctrl+C stops it)"
	@echo ""
	@# The web server and a background-job worker together; Ctrl+C stops both (incidents/jobs/launcher.py).
	$(VENV)/bin/python -m incidents.jobs.launcher -- \
		$(VENV)/bin/gunicorn --bind $(HOST):$(PORT) --workers 2 --worker-class gthread --threads 4 \
		--access-logfile - --graceful-timeout 10 app:app

browser-deps:
	@bash tests/setup_browser.sh

# HarfBuzz-Subset, which WeasyPrint 70 uses to embed only the glyphs a PDF needs.
pdf-deps:
	@bash tests/setup_pdf.sh

postgres:
	@bash tests/setup_postgres.sh

memcached:
	@bash tests/setup_memcached.sh

# A Redis on 127.0.0.1:6379 for the background-job tests of the Redis queue.
redis:
	@bash tests/setup_redis.sh

alertmanager:
	@bash tests/setup_alertmanager.sh

# Ruff first: a lint error fails the run (and CI) before the slow tests start.
test: install browser-deps pdf-deps postgres memcached redis alertmanager
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest -n $(TEST_WORKERS) -m "not serial" --durations=15 $(PYTEST_ARGS)
	@# Exit code 5 means PYTEST_ARGS selected no serial test: not a failure.
	$(VENV)/bin/python -m pytest -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]

# A quick loop while developing: SQLite only, without the browser, crash and fuzz tests.
# Not a substitute for `make test`, which CI runs.
test-fast: install pdf-deps
	$(VENV)/bin/ruff check .
	TEST_BACKENDS=sqlite $(VENV)/bin/python -m pytest -n $(TEST_WORKERS) -m "not browser and not slow and not fuzz" $(PYTEST_ARGS)

bench: install
	$(VENV)/bin/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
