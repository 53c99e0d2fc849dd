# Two commands for a fresh machine: `make demo` and `make test`. Both install what is missing.
PYTHON ?= .venv/bin/python
PYTEST_ARGS ?=

.PHONY: install demo test test-fast benchmark clean-data

install:
	@bash tools/install.sh

demo: install
	@PYTHON=$(PYTHON) bash tools/run_demo.sh

test: install
	$(PYTHON) -m pytest tests $(PYTEST_ARGS)

# Skips the end-to-end runs marked `slow`.
test-fast: install
	$(PYTHON) -m pytest tests -m "not slow" $(PYTEST_ARGS)

benchmark: install
	$(PYTHON) tools/benchmark.py

clean-data:
	rm -rf data/demo
