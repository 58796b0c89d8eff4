# The two commands: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export FLASK_APP := app:create_app

.PHONY: run test venv lint clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Re-install when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# the local demo: development defaults (SQLite in instance/, a generated SECRET_KEY)
run: export ISPZONE_ENV := development
run: export PUBLIC_URL ?= http://127.0.0.1:5000
run: venv
	$(BIN)/ispzone db upgrade
	$(BIN)/ispzone demo --if-empty
	$(BIN)/ispzone run --host 127.0.0.1 --port 5000

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff, and the layers of the house (import-linter contracts in pyproject.toml)
lint: venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# The benchmarks of issues 2-5, one after another (they need PostgreSQL; bench/web.py needs
# wrk, bench/enforcement.py FreeRADIUS and radclient: apt-get install wrk freeradius
# freeradius-rest freeradius-utils). Each prints its figures and targets.
bench: venv
	$(BIN)/python bench/web.py
	$(BIN)/python bench/web_floor.py
	$(BIN)/python bench/import.py
	$(BIN)/python bench/voip.py
	$(BIN)/python bench/enforcement.py

clean:
	rm -rf $(VENV) instance/*.sqlite3 .pytest_cache
