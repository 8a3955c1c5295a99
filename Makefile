# One-command set-up: `make demo` (install + run on the sample data) and `make test` (install + tests).
# torch==2.13.0 goes in first (a CPU build on this machine's disk) and constraints.txt pins it and every
# other package to the versions we tested, so pip never resolves a multi-GB torch or an untested release.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: setup demo test bench clean
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -c constraints.txt hatchling editables
	$(PIP) install -q -c constraints.txt --no-build-isolation -e '.[dev,postgres,mysql,spark]'
	touch $@

demo: setup
	$(BIN)/aigc-biz recommend sample_data/retail_orders.csv -o out/recommendations.csv \
		--copy sms --locale zh --report out/report.html

# pytest-xdist, at most 4 workers (one can hold a Spark JVM or a torch fit); README's Development says why.
test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadfile

clean:
	rm -rf out .pytest_cache
