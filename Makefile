# The two commands of the README:
#   make run    set everything up, then simulate the baseline scenario
#   make test   set everything up, then run the tests
# Set-up makes .venv with Python 3.12+ (pyenv's, if the default python3 is older)
# and installs the project with its test extras.  Nothing is installed by hand.

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup run test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh $(VENV)
	touch $(STAMP)

run: setup
	$(VENV)/bin/improvesim run baseline --force

test: setup
	IMPROVESIM_TEST_ARTIFACTS=test-artifacts $(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench: setup
	$(PY) benchmarks/run.py
	$(PY) benchmarks/sweep.py
	$(PY) benchmarks/app.py
	$(PY) benchmarks/sizes.py
	$(PY) benchmarks/targets.py

clean:
	rm -rf $(VENV) results .pytest_cache
