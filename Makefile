# Fine-tune an LLM with PyTorch: set-up, run the course, test it.
#   make setup    .venv/ with torch (pinned, installed first) + requirements + course_utils
#   make course   execute the seven notebooks in order with the profile that fits this machine
#   make test     unit tests + every notebook under nbval (smoke profile, offline)
#   make bench    training throughput of the profiles (one GPU; BENCH_ARGS=--tiny on a CPU)
#   make gpu-check  the instructor's GPU path measured: profiles, levers, loss check, notebooks 04-07
#                 (one H100/H200, ~8 min; GPU_CHECK_ARGS=--tiny walks the same steps on a CPU)
#   make test-latest  the smoke series against the newest library releases, in .venv-latest/
#   make lab      open JupyterLab on the notebooks
#   make clean    remove outputs/ (VENV_CLEAN=1 removes .venv/ too)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check
STAMP  := $(VENV)/.installed
OUTPUT ?= $(or $(COURSE_OUTPUT_DIR),outputs)
TEST_OUTPUT := $(OUTPUT)/test
# the test environment: smoke profile, no network to any hub, no progress bars in nbval diffs
TEST_ENV := COURSE_PROFILE=smoke COURSE_OUTPUT_DIR=$(abspath $(TEST_OUTPUT)) \
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TQDM_DISABLE=1 \
	HF_HUB_DISABLE_TELEMETRY=1 COURSE_BLOCK_NETWORK=1 PYTHONPATH=$(abspath .):$(abspath tests/netguard) \
	MPLBACKEND=Agg PYTHONWARNINGS=ignore

.PHONY: setup course test test-latest bench gpu-check lab clean

setup: $(STAMP)

# torch first, alone and pinned (constraints.txt); every later install keeps it.
$(STAMP): constraints.txt requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) -c constraints.txt torch
	$(PIP) -c constraints.txt -r requirements.txt
	$(PIP) -c constraints.txt --no-deps -e .
	touch $(STAMP)

course: setup
	mkdir -p $(OUTPUT)/executed
	COURSE_OUTPUT_DIR=$(abspath $(OUTPUT)) MPLBACKEND=Agg $(VENV)/bin/jupyter nbconvert \
		--to notebook --execute --ExecutePreprocessor.timeout=-1 \
		--output-dir $(OUTPUT)/executed notebooks/0*.ipynb
	@echo "executed notebooks are in $(OUTPUT)/executed"

test: setup
	rm -rf $(TEST_OUTPUT)
	$(TEST_ENV) $(PY) -m pytest tests notebooks solutions --nbval-lax --nbval-current-env \
		--durations=10 -q

bench: setup
	$(PY) bench/train_throughput.py $(BENCH_ARGS)

# On a GPU machine that already has torch (no setup: it must not replace the machine's CUDA torch).
GPU_PYTHON ?= $(if $(wildcard $(PY)),$(PY),python3)
gpu-check:
	PYTHONPATH=$(abspath .) $(GPU_PYTHON) bench/gpu_check.py $(GPU_CHECK_ARGS)

# Staying current: the newest transformers/trl/peft/datasets/accelerate/bitsandbytes (torch stays
# pinned: a newer torch would be a multi-GB CUDA download), then the notebooks under nbval.
LATEST := .venv-latest
test-latest:
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt torch
	$(LATEST)/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt --upgrade \
		transformers trl peft datasets accelerate bitsandbytes tokenizers tiktoken pandas matplotlib \
		ipykernel nbclient nbval pytest
	$(LATEST)/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt --no-deps -e .
	$(LATEST)/bin/python -m pip list 2>/dev/null | grep -iE "^(transformers|trl|peft|datasets|accelerate|bitsandbytes) "
	rm -rf $(OUTPUT)/test-latest
	$(subst $(abspath $(TEST_OUTPUT)),$(abspath $(OUTPUT)/test-latest),$(TEST_ENV)) \
		$(LATEST)/bin/python -m pytest notebooks tests/test_api_drift.py --nbval-lax --nbval-current-env -q

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf $(OUTPUT)
	$(if $(VENV_CLEAN),rm -rf $(VENV) $(LATEST))
