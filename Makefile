# Two commands for a fresh machine: `make demo` and `make test`. Both install what is missing.
PYTHON ?= .venv/bin/python
PYTEST_ARGS ?=

.PHONY: install demo test test-fast bench bench-amp benchmark gain clean-data

install:
	@bash tools/install.sh

demo: install
	@PYTHON=$(PYTHON) bash tools/run_demo.sh

test: install
	$(PYTHON) -m pytest tests $(PYTEST_ARGS)

# Skips the end-to-end runs marked `slow`.
test-fast: install
	$(PYTHON) -m pytest tests -m "not slow" $(PYTEST_ARGS)

# GreenMIM vs SimMIM training steps side by side (~15 min on 2 cores); the README's table.
bench: install
	$(PYTHON) tools/analysis_tools/benchmark.py --json docs/benchmark/benchmark.json \
		--plot docs/benchmark/benchmark.png

# The same under mixed precision: bf16 autocast on CPU, fp16 on CUDA (both contenders).
# Needs bf16 hardware (AMX / AVX-512-BF16, or a GPU) for meaningful times; elsewhere
# tools/analysis_tools/benchmark.py --amp --no-time measures the step memory alone.
bench-amp: install
	$(PYTHON) tools/analysis_tools/benchmark.py --amp --json docs/benchmark/benchmark_amp.json \
		--plot docs/benchmark/benchmark_amp.png

benchmark: bench

# Does pre-training pay off? Random init vs GreenMIM vs SimMIM pre-trained for the same
# wall-clock, each fine-tuned with 3 seeds (docs/en/pretraining_gain.md; 34 min on 2 cores).
gain: install
	$(PYTHON) tools/analysis_tools/pretrain_gain.py \
		--json docs/pretraining_gain/pretraining_gain.json \
		--plot docs/pretraining_gain/pretraining_gain.png

clean-data:
	rm -rf data/demo
