# Two commands do all set-up on a fresh machine with Python 3.11+ and make:
#   make demo   - create/reuse .venv, install argyrodb, build every structure, write cifs/
#   make test   - create/reuse .venv, install argyrodb with test extras, run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.argyrodb-installed

.PHONY: demo test cifs clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "argyrodb needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/argyrodb build structures/*.yaml --cif-dir cifs

cifs: $(STAMP)
	$(BIN)/argyrodb build structures/*.yaml --cif-dir cifs > /dev/null

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache
