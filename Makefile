# Two commands do all set-up on a fresh machine with Python 3.11+ and make:
#   make demo   - create/reuse .venv, install argyrodb, build every structure, write cifs/
#   make test   - create/reuse .venv, install argyrodb with test extras, check the import layers, ruff, mypy, run the tests
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.argyrodb-installed
# Every package make test, make demo, make bench and CI install, pinned with hashes (make lock writes it;
# pyproject.toml keeps open ranges for users). uv resolves the lock; pip installs it.
LOCK := requirements/dev.lock
UV_VERSION := 0.13.9
LOCK_TOOLS := .venv-lock
LATEST_VENV := .venv-latest
# The other readers check-xrd-real compares argyrodb's diffractometer readers with (a scratch venv, never the lock)
XRD_REF_VENV := .venv-xrd-ref
XRD_REF_PACKAGES := geddes==1.0.1 openreadout==0.4.0
# pytest on both cores (pytest-xdist); a test file stays on one worker so its module fixtures are built once
PYTEST_ARGS ?= -q -n auto --dist loadfile --durations=15
# The demo's database lives in the checkout (db/argyrodb.sqlite, git-ignored); elsewhere argyrodb's default is
# $ARGYRODB_DB or ~/.local/share/argyrodb/argyrodb.sqlite.
DEMO_DB := $(CURDIR)/db/argyrodb.sqlite

.PHONY: demo test test-latest lock cifs bench fuzz clean check-web check-eis-real check-xrd-real docs

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "argyrodb needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	@touch $(STAMP)

# Re-resolve the lock from pyproject.toml's ranges (all extras the developers use), newest versions that fit.
lock:
	@test -x $(LOCK_TOOLS)/bin/uv || ($(PYTHON) -m venv $(LOCK_TOOLS) && $(LOCK_TOOLS)/bin/python -m pip install --quiet uv==$(UV_VERSION))
	@mkdir -p $(dir $(LOCK))
	$(LOCK_TOOLS)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
	  --extra test --extra bench --extra serve --extra optimade --extra dask \
	  --custom-compile-command 'make lock' --quiet -o $(LOCK)

# The suite against the newest versions pyproject.toml allows today (a scratch venv, not the lock), so drift
# in numpy, pymatgen, xraydb... is seen on purpose. Failures here mean: fix, then `make lock`.
test-latest:
	rm -rf $(LATEST_VENV)
	$(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(LATEST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade --upgrade-strategy eager -e '.[test]'
	$(LATEST_VENV)/bin/python checks/lock_drift.py $(LOCK)
	$(LATEST_VENV)/bin/lint-imports
	$(LATEST_VENV)/bin/ruff check --quiet .
	$(LATEST_VENV)/bin/mypy
	ARGYRODB_UNLOCKED=1 $(LATEST_VENV)/bin/python -m pytest $(PYTEST_ARGS)

demo: export ARGYRODB_DB = $(DEMO_DB)
demo: $(STAMP)
	$(BIN)/argyrodb build structures/*.yaml --cif-dir cifs
	@mkdir -p out/xrd
	@for f in structures/*.yaml; do \
	  n=$$(basename $$f .yaml); \
	  $(BIN)/argyrodb xrd $$f --wavelength CuKa12 --two-theta 10 120 --size-nm 100 \
	    --csv out/xrd/$$n.csv --xy out/xrd/$$n.xy --plot out/xrd/$$n.png > /dev/null || exit 1; \
	  echo "wrote out/xrd/$$n.csv, .xy, .png"; \
	done
	$(BIN)/argyrodb xrd structures/LMA-Cl0.8I0.6.yaml --wavelength 1.542 --two-theta 10 60 \
	  --compare structures/Li6PS5Cl.yaml --compare structures/Li6PS5I.yaml --plot out/xrd/fig-s1-overlay.png > /dev/null
	@echo "wrote out/xrd/fig-s1-overlay.png (LMA-Cl0.8I0.6 with the Li6PS5Cl and Li6PS5I end members, lambda = 1.542 A)"
	$(BIN)/argyrodb db build
	$(BIN)/argyrodb db compare Li5.6PS4.6Cl0.8I0.6 --dataset table_s3
	$(BIN)/argyrodb db compare Li5.6PS4.6Cl0.8I0.6
	$(BIN)/argyrodb db plot --out out/literature.png
	$(BIN)/argyrodb db query "I>0,sigma_mS_cm>=5" --columns dataset,formula,sigma_mS_cm,ccd_mA_cm2,anode,ref_number --sort -sigma_mS_cm
	@mkdir -p out/refine
	$(BIN)/argyrodb refine tests/data/refine/lma_nominal.xye --start tests/data/refine/lma_nominal.start.yaml --phase LiCl \
	  --plot out/refine/lma_nominal.png --out out/refine/LMA-refined.yaml
	@echo "the pattern: xrayutilities' simulation of LMA-Cl0.8I0.6 at its nominal composition + 3 wt% LiCl, refined from Table S2 as printed (truth: tests/data/refine/lma_nominal.truth.yaml)"
	@$(BIN)/argyrodb db remove my_measurements.csv > /dev/null 2>&1 || true  # a rebuild kept the last demo's import
	$(BIN)/argyrodb db add examples/my_measurements.csv
	$(BIN)/argyrodb db query --dataset user --columns dataset_id,dataset_row,formula,sigma_printed,temperature_K,structure_type
	$(BIN)/argyrodb db compare Li5.5PS4.5Cl0.9I0.6
	$(BIN)/argyrodb audit --summary
	$(BIN)/argyrodb screen "Li5.6PS4.6Cl1.4-xIx" --x 0:1.4:0.1 --plots out/screen --export out/screen/x-series.csv
	$(BIN)/argyrodb approximants Li5.6PS4.6Cl0.8I0.6 -n 3 --candidates 30 --out out/approximants

cifs: $(STAMP)
	$(BIN)/argyrodb build structures/*.yaml --cif-dir cifs > /dev/null

test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check --quiet .
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The API reference of argyrodb.api (its 25 public names) as HTML in docs/api/ (pdoc; git-ignored).
docs: $(STAMP)
	rm -rf docs/api
	$(BIN)/pdoc argyrodb.api --docformat restructuredtext -o docs/api
	@echo "wrote docs/api/index.html"

clean:
	rm -rf $(VENV) $(LOCK_TOOLS) $(LATEST_VENV) $(XRD_REF_VENV) .pytest_cache

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_xrd.py
	$(BIN)/python benchmarks/bench_db.py
	$(BIN)/python benchmarks/bench_screen.py
	$(BIN)/python benchmarks/bench_bvse.py
	$(BIN)/python benchmarks/bench_startup.py
	$(BIN)/python benchmarks/bench_refine_peer.py
	$(BIN)/python benchmarks/bench_refine.py
	$(BIN)/python benchmarks/bench_identify.py

# Bounded mutation fuzzing of the readers (FUZZ_SECONDS, default 60); exits non-zero on a crash.
FUZZ_SECONDS ?= 60
fuzz: $(STAMP)
	$(BIN)/python fuzz/fuzz_readers.py --seconds $(FUZZ_SECONDS)

# Headless-Chromium screenshots of the main Datasette pages (out/web/*.png) for a person to look at.
check-web: export ARGYRODB_DB = $(DEMO_DB)
check-web: $(STAMP)
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" != 0 ]; then echo "make check-web: needs Debian's chromium and chromium-driver (as root: apt-get install chromium chromium-driver)" >&2; exit 2; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver; \
	fi
	@test -f $(DEMO_DB) || $(BIN)/argyrodb db build --quiet
	$(BIN)/python checks/check_web.py --db $(DEMO_DB) --out out/web

# `argyrodb eis` on real instrument files against their published fits (checks/eis_real_files.md lists the files,
# their sources, licences and SHA-256; they are not in this repository): make check-eis-real EIS_REAL_DIR=folder
check-eis-real: $(STAMP)
	@test -n "$(EIS_REAL_DIR)" || (echo "make check-eis-real: give EIS_REAL_DIR=folder (see checks/eis_real_files.md)" >&2; exit 2)
	$(BIN)/python checks/eis_real.py $(EIS_REAL_DIR)

# The diffractometer readers (.brml, .raw, .ras, .rasx, GSAS) on real files against xylib (Debian's libxy-bin), geddes and
# openreadout (a scratch venv) and xrayutilities: checks/xrd_real_files.md lists the files, their sources, licences and
# SHA-256 (they are not in this repository): make check-xrd-real XRD_REAL_DIR=folder
check-xrd-real: $(STAMP)
	@test -n "$(XRD_REAL_DIR)" || (echo "make check-xrd-real: give XRD_REAL_DIR=folder (see checks/xrd_real_files.md)" >&2; exit 2)
	@command -v xyconv >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libxy-bin)
	@test -x $(XRD_REF_VENV)/bin/python || ($(PYTHON) -m venv $(XRD_REF_VENV) && $(XRD_REF_VENV)/bin/python -m pip install --quiet --disable-pip-version-check $(XRD_REF_PACKAGES))
	$(BIN)/python checks/xrd_real.py $(XRD_REAL_DIR) --reference-python $(XRD_REF_VENV)/bin/python
