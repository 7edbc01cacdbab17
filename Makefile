PYTHON ?= python
# CPU wheel by default; for CUDA: make install TORCH_INDEX=https://download.pytorch.org/whl/cu124 TORCH_SPEC=torch
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=

.PHONY: install test test-slow lint format train clean

install:  ## install torch, then encdec with its dev tools (editable)
	$(PYTHON) -m pip install $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_SPEC)"
	$(PYTHON) -m pip install -e ".[dev]"

test:  ## the test suite (slow and gpu tests excluded)
	$(PYTHON) -m pytest -q

test-slow:  ## only the slow checks (real training to a quality bar)
	$(PYTHON) -m pytest -q -m slow

lint:
	$(PYTHON) -m ruff check src tests train.py eval.py predict.py
	$(PYTHON) -m ruff format --check src tests train.py eval.py predict.py

format:
	$(PYTHON) -m ruff check --fix src tests train.py eval.py predict.py
	$(PYTHON) -m ruff format src tests train.py eval.py predict.py

train:
	$(PYTHON) train.py

clean:
	rm -rf outputs multirun .pytest_cache
