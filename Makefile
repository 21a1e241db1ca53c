# Two commands do all the set-up on a fresh machine with Python 3.11+ and make:
#   make demo   -> creates .venv, installs the locked dependency set, runs volts on the synthetic demo market
#   make test   -> the same set-up, then lint, the documentation build and the whole test suite (what CI runs)
# Development targets (CONTRIBUTING.md): make test-fast (the unit tests: those without the `slow` marker),
# make lint (ruff check, ruff format --check, mypy), make docs (the documentation site, mkdocs build --strict into site/).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export OPENBLAS_NUM_THREADS ?= 1
export MPLBACKEND ?= Agg
# pytest-xdist: the tests run in TEST_WORKERS processes (one per core of CI's 2-core machine), a whole test file
# to one worker (--dist loadfile) so that a module-scoped fixture runs once; TEST_WORKERS=0 runs them in-process.
TEST_WORKERS ?= 2
PYTEST_PARALLEL := -n $(TEST_WORKERS) --dist loadfile

.PHONY: demo test test-fast lint docs bench check-report clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "volts needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e ".[test,docs,lint]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/volts run --config examples/demo.toml --out runs/demo

test: $(STAMP) lint docs
	@$(BIN)/python -m pytest -q $(PYTEST_PARALLEL); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; exit $$rc

test-fast: $(STAMP)
	@$(BIN)/python -m pytest -q $(PYTEST_PARALLEL) -m "not slow"; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test-fast: pytest collected no tests" >&2; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check volts tests scripts benchmarks
	$(BIN)/mypy volts/

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

bench: $(STAMP)
	$(BIN)/python -m benchmarks

REPORT ?= runs/demo/latest/report.html
check-report: $(STAMP)
	$(BIN)/python scripts/check_report_html.py $(REPORT)

clean:
	rm -rf $(VENV) runs .pytest_cache site .mypy_cache .ruff_cache
