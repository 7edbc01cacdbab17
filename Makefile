PYTHON ?= python
# CPU wheel by default; for CUDA: make install TORCH_INDEX=https://download.pytorch.org/whl/cu124 TORCH_SPEC=torch
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=

.PHONY: help install install-browser test test-slow test-gpu lint typecheck format train bench bench-gpu clean
.DEFAULT_GOAL := help

SOURCES = src tests bench train.py eval.py predict.py serve.py embed.py index.py ask.py

help:  ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

install:  ## install torch, then encdec with its dev tools (editable)
	$(PYTHON) -m pip install $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_SPEC)"
	$(PYTHON) -m pip install -e ".[dev]"

install-browser:  ## headless Chromium for the serving page's browser test (Debian/Ubuntu, as root)
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver

test:  ## the test suite (slow and gpu tests excluded)
	$(PYTHON) -m pytest -q

test-slow:  ## only the slow checks (real training to a quality bar); CUDA checks excluded
	$(PYTHON) -m pytest -q -m "slow and not gpu"

test-gpu:  ## only the CUDA checks (skipped, saying why, where no CUDA device is visible)
	$(PYTHON) -m pytest -q -m gpu

# The benchmark (docs/performance.md): training throughput (fp32 at 1 and 2 threads, bf16-mixed),
# then decoding speed with a trained reference model (trained once, ~15 min, then reused).
BENCH_CKPT ?= .cache/bench/reference.ckpt
BENCH_HARDWARE ?= cpu
bench: $(BENCH_CKPT)  ## the CPU benchmarks of docs/performance.md
	$(PYTHON) bench/train_throughput.py --threads 1,2
	$(PYTHON) bench/train_throughput.py --threads 2 trainer.precision=bf16-mixed
	$(PYTHON) bench/decode_speed.py --ckpt $(BENCH_CKPT) --precision fp32,bf16

# The same on one CUDA GPU (docs/performance.md, "On a GPU"); the reference model trains there too.
bench-gpu: BENCH_HARDWARE = gpu
# More steps and wider windows than on the CPU: a step there is ~20x faster.
GPU_THROUGHPUT = --accelerator gpu --steps 300 --warmup 20 --window 20
bench-gpu: $(BENCH_CKPT)  ## the same benchmarks on one CUDA GPU
	$(PYTHON) bench/train_throughput.py $(GPU_THROUGHPUT)
	$(PYTHON) bench/train_throughput.py $(GPU_THROUGHPUT) trainer.precision=bf16-mixed
	$(PYTHON) bench/decode_speed.py --ckpt $(BENCH_CKPT) --device cuda --precision fp32,bf16

.cache/bench/reference.ckpt:
	$(PYTHON) train.py experiment=bench_reference hardware=$(BENCH_HARDWARE) trainer.max_epochs=4 \
		test=false logger=none hydra.run.dir=.cache/bench/reference_run
	cp .cache/bench/reference_run/checkpoints/last.ckpt $@

lint: typecheck  ## ruff (lint + format check) and mypy
	$(PYTHON) -m ruff check $(SOURCES)
	$(PYTHON) -m ruff format --check $(SOURCES)

typecheck:  ## mypy on src/ (settings in pyproject.toml)
	$(PYTHON) -m mypy

format:  ## ruff: fix what it can, then format
	$(PYTHON) -m ruff check --fix $(SOURCES)
	$(PYTHON) -m ruff format $(SOURCES)

train:  ## python train.py with the default config
	$(PYTHON) train.py

clean:  ## remove outputs, multirun and pytest's cache
	rm -rf outputs multirun .pytest_cache
