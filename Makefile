# Two commands for a fresh machine: `make demo` and `make test`. Both install what is missing.
PYTHON ?= .venv/bin/python
PYTEST_ARGS ?=
# Test worker processes (pytest-xdist, one test file per worker), each with one intra-op thread
# (tests/conftest.py): on 2 cores two workers beat one process with two threads
# (docs/en/get_started.md, Tests). PYTEST_WORKERS=0 runs the tests in the pytest process.
PYTEST_WORKERS ?= 2
XDIST = $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile)
# The slow runs are few and uneven (3-105 s each): work stealing balances them test by test.
# (--dist loadfile queues files by their number of tests, which left the longest runs, in
# files of one or two tests, for last: 438 s in two workers for 770 s of tests.)
XDIST_SLOW = $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist worksteal)

.PHONY: install demo test test-slow lint format bench bench-amp benchmark gpu-check gain docs-tables clean-data

install:
	@bash tools/install.sh

# Writes work_dirs/demo/demo_result.json; DEMO_PUBLISH=1 also copies it into docs/demo/ and
# regenerates the docs' tables (DEMO_BASELINE=1: the random-init baseline too).
demo: install
	@PYTHON=$(PYTHON) bash tools/run_demo.sh

# Unit and small integration tests (a few minutes on 2 cores).
test: install
	$(PYTHON) -m pytest tests -m "not slow" $(XDIST) $(PYTEST_ARGS)

# The end-to-end runs marked `slow` (demo Mask R-CNN, upstream tools, DDP, resume, compile);
# .ci/run runs them after `make test`.
test-slow: install
	$(PYTHON) -m pytest tests -m slow $(XDIST_SLOW) $(PYTEST_ARGS)

# flake8, isort and yapf as OpenMMLab runs them (settings in setup.cfg, the same hooks in
# .pre-commit-config.yaml); .ci/run runs it after the tests. All three report before it fails.
# `make format` fixes what isort and yapf can (imports, wrapping); long comments and strings
# and unused names are fixed by hand.
LINT_PATHS = greenmim_mm tests tools configs setup.py

lint: install
	@status=0; \
	echo '[lint] flake8'; $(PYTHON) -m flake8 $(LINT_PATHS) || status=1; \
	echo '[lint] isort'; $(PYTHON) -m isort --check-only --diff $(LINT_PATHS) || status=1; \
	echo '[lint] yapf'; $(PYTHON) -m yapf --diff --recursive --parallel $(LINT_PATHS) || status=1; \
	exit $$status

format: install
	$(PYTHON) -m isort $(LINT_PATHS)
	$(PYTHON) -m yapf --in-place --recursive --parallel $(LINT_PATHS)

# GreenMIM vs SimMIM training steps side by side, each on its config's optimizer, with the
# sweep (~15 min on 2 cores); then the docs' tables are regenerated.
bench: install
	$(PYTHON) tools/analysis_tools/benchmark.py --json docs/benchmark/benchmark.json \
		--plot docs/benchmark/benchmark.png
	$(PYTHON) tools/misc/update_docs_tables.py

# The same under mixed precision: bf16 autocast on CPU, fp16 on CUDA (both contenders).
# Needs bf16 hardware (AMX / AVX-512-BF16, or a GPU) for meaningful times; elsewhere
# tools/analysis_tools/benchmark.py --amp --no-time measures the step memory alone.
bench-amp: install
	$(PYTHON) tools/analysis_tools/benchmark.py --amp --json docs/benchmark/benchmark_amp.json \
		--plot docs/benchmark/benchmark_amp.png
	$(PYTHON) tools/misc/update_docs_tables.py

benchmark: bench

# On one GPU, <= 8 minutes: the CUDA tests, then the benchmark at 224 px, batch 32/64/128,
# fp32/fp16/bf16, eager (with operation counts) and torch.compile'd; writes
# work_dirs/gpu_check/gpu_check.json and gpu_check.md (docs/en/benchmark_profiling.md).
gpu-check: install
	$(PYTHON) tools/analysis_tools/gpu_check.py --out-dir work_dirs/gpu_check

# Does pre-training pay off? Random init vs GreenMIM vs SimMIM pre-trained for the same
# wall-clock on rendered glyphs, each read by a few-label probe on frozen features after 1/8,
# 1/4, 1/2 and all of T, 3 seeds (docs/en/pretraining_gain.md; 26 min on 2 cores). Publishes
# the JSON and plot into docs/pretraining_gain/ and regenerates the pages' tables.
gain: install
	$(PYTHON) tools/analysis_tools/pretrain_gain.py --publish

# The results tables of README.md and docs/en/*.md, from the result files under docs/
# (docs/en/benchmark.md; `make test` fails while a table differs from its file).
docs-tables: install
	$(PYTHON) tools/misc/update_docs_tables.py

clean-data:
	rm -rf data/demo data/glyphs
