# Fine-tune an LLM with PyTorch: set-up, run the course, test it.
#   make setup    .venv/ with torch (pinned, installed first) + requirements + course_utils
#   make course   execute the notebooks in order with the profile that fits this machine
#   make test     unit tests + every notebook under nbval (smoke profile, offline): the quick loop
#   make test-slow  the tests marked slow: whole runs as scripts, kernels, benchmarks, bitsandbytes on the
#                 CPU, notebook 07 alone, GPT-2 through 04-06 (.ci/run runs it after make test)
#   make test-laptop  every notebook under nbval on the laptop profile's settings, the tiny model
#                 standing in for its model (offline, a few steps; .ci/run runs it after make test)
#   make test-ui  JupyterLab in headless chromium: notebook 06 runs and shows what a learner sees;
#                 then the site (make site) opened page by page
#   make site     the course as HTML pages from executed notebooks (offline, smoke) in $(OUT)/course-site/html (a folder the course owns whole)
#   make fork REPO=OWNER/REPO [BRANCH=main]  point the Colab badges and install cells to your copy
#   make bench    training throughput of the profiles (one GPU; BENCH_ARGS=--tiny on a CPU)
#   make gpu-check  the instructor's GPU path measured: profiles, levers, loss check, notebooks 04-07
#                 (one H100/H200, ~8 min; GPU_CHECK_ARGS=--tiny walks the same steps on a CPU)
#   make test-latest  the smoke series against the newest library releases, in .venv-latest/
#   make lab      open JupyterLab on the notebooks
#   make clean    remove what the course wrote in outputs/ or COURSE_OUTPUT_DIR, nothing else
#                 (VENV_CLEAN=1 removes .venv/ and .venv-latest/ too)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check
STAMP  := $(VENV)/.installed
# COURSE_OUTPUT_DIR as the course reads it: ~ expanded, a relative path taken from this folder (the
# repository), spaces kept (every use below is quoted; make's own abspath would split the path).
OUTPUT ?= $(or $(strip $(COURSE_OUTPUT_DIR)),outputs)
OUT := $(shell $(PYTHON) -c 'import os, sys; print(os.path.abspath(os.path.expanduser(sys.argv[1])))' '$(OUTPUT)')
# What the course writes in $(OUT) is listed in its manifest (.course-manifest); `make clean` removes
# that and nothing else (course_utils/clean.py, standard library only). make test writes into a
# folder the course owns whole, course-test/ (marked as the course's; a learner's test/ is never touched).
CLEAN := PYTHONPATH="$(abspath .)" $(PYTHON) -m course_utils.clean
TEST_OUTPUT := $(OUT)/course-test
# the test environment: smoke profile, no network to any hub, no progress bars in nbval diffs
TEST_ENV := COURSE_PROFILE=smoke COURSE_OUTPUT_DIR="$(TEST_OUTPUT)" \
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TQDM_DISABLE=1 \
	HF_HUB_DISABLE_TELEMETRY=1 COURSE_BLOCK_NETWORK=1 PYTHONPATH="$(abspath .):$(abspath tests/netguard)" \
	MPLBACKEND=Agg PYTHONWARNINGS=ignore

.PHONY: setup course test test-slow test-laptop test-ui site fork test-latest bench gpu-check lab clean

setup: $(STAMP)

# torch first, alone and pinned (constraints.txt); every later install keeps it.
# Which build: course_utils/torch_build.py (TORCH_INDEX if given; on Linux without nvidia-smi the
# CPU build from https://download.pytorch.org/whl/cpu; else PyPI's default). It says which it took.
TORCH_INDEX ?=
$(STAMP): constraints.txt requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "make setup needs Python 3.11 or newer (transformers 5 and trl 1.16 do), found " + sys.version.split()[0] + ": run make setup PYTHON=python3.11")'
	@echo "installing torch first (pinned; several minutes for a CUDA build), then the course's libraries"
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	index="$$(TORCH_INDEX='$(TORCH_INDEX)' $(PYTHON) -m course_utils.torch_build)" && \
		$(PIP) -c constraints.txt torch $${index:+--index-url "$$index"}
	@$(PY) -c 'import torch; print("make setup: installed torch", torch.__version__, "(CUDA " + torch.version.cuda + " build)" if torch.version.cuda else "(CPU build)")'
	$(PIP) -c constraints.txt -r requirements.txt
	$(PIP) -c constraints.txt --no-deps -e .
	touch $(STAMP)

# MPLBACKEND is left to Jupyter (its inline backend); course_utils.plots sends each figure as a
# PNG output in any case, so the executed copies hold every figure.
course: setup
	$(CLEAN) --record "$(OUT)" file $(patsubst notebooks/%,executed/%,$(wildcard notebooks/0*.ipynb))
	COURSE_OUTPUT_DIR="$(OUT)" $(VENV)/bin/jupyter nbconvert \
		--to notebook --execute --ExecutePreprocessor.timeout=-1 \
		--output-dir "$(OUT)/executed" notebooks/0*.ipynb
	@echo "executed notebooks are in $(OUT)/executed"

test: setup
	$(CLEAN) --scratch "$(TEST_OUTPUT)"
	$(TEST_ENV) $(PY) -m pytest tests notebooks solutions --nbval-lax --nbval-current-env \
		-m "not slow" --durations=10 -q

# Same environment and scratch folder as make test, for the tests marked slow (tens of seconds each).
test-slow: setup
	$(CLEAN) --scratch "$(TEST_OUTPUT)"
	$(TEST_ENV) $(PY) -m pytest tests -m slow --durations=10 -q

# The laptop profile's settings (max_length 512, 2 x 2 rows per step, its learning rate, eval rows, LoRA
# targets, 64 new tokens) through the whole series, offline: the shipped tiny model stands in for
# SmolLM2 (COURSE_MODEL) and the sample for Alpaca (COURSE_DATA); a few steps (COURSE_MAX_STEPS) since
# only the settings differ from smoke. Then a check that the runs recorded the laptop profile's fields.
LAPTOP_OUTPUT := $(OUT)/course-test-laptop
LAPTOP_ENV := $(subst COURSE_PROFILE=smoke,COURSE_PROFILE=laptop,$(subst $(TEST_OUTPUT),$(LAPTOP_OUTPUT),$(TEST_ENV))) \
	COURSE_MODEL="$(abspath course_utils/assets/tiny-llama)" COURSE_DATA=sample COURSE_MAX_STEPS=4 \
	COURSE_LAPTOP_SERIES=1
test-laptop: setup
	$(CLEAN) --scratch "$(LAPTOP_OUTPUT)"
	$(LAPTOP_ENV) $(PY) -m pytest notebooks tests/test_laptop.py::test_the_series_ran_on_the_laptop_settings \
		--nbval-lax --nbval-current-env -q

# The front-end as a learner sees it: JupyterLab driven by Playwright in Debian's chromium
# (apt-get install chromium; no browser download). Screenshots land in $(OUT)/course-ui/.
UI_STAMP := $(VENV)/.ui-installed
CHROMIUM ?= /usr/bin/chromium
$(UI_STAMP): $(STAMP) tests/ui/requirements.txt
	$(PIP) -c constraints.txt -r tests/ui/requirements.txt
	touch $(UI_STAMP)

test-ui: $(UI_STAMP)
	@test -x $(CHROMIUM) || { echo "make test-ui needs chromium at $(CHROMIUM): apt-get install -y chromium"; exit 1; }
	$(CLEAN) --scratch "$(OUT)/course-ui"
	$(MAKE) --no-print-directory site SITE="$(OUT)/course-ui/site"
	COURSE_UI_TEST=1 CHROMIUM=$(CHROMIUM) COURSE_OUTPUT_DIR="$(OUT)/course-ui" \
		COURSE_SITE_DIR="$(OUT)/course-ui/site/html" \
		$(PY) -m pytest tests/ui -v -s -p no:cacheprovider

# The course as a site: every notebook executed offline (SITE_PROFILE, default smoke; network
# blocked as in the tests), progress bars kept (no TQDM_DISABLE), then HTML pages + index
# (course_utils/site.py). GitHub Pages serves $(SITE)/html (.github/workflows/site.yml).
SITE ?= $(OUT)/course-site
SITE_PROFILE ?= smoke
site: setup
	$(CLEAN) --scratch "$(SITE)"
	mkdir -p "$(SITE)/run"
	COURSE_PROFILE=$(SITE_PROFILE) COURSE_OUTPUT_DIR="$(SITE)/run" HF_HUB_OFFLINE=1 \
		HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 COURSE_BLOCK_NETWORK=1 \
		PYTHONPATH="$(abspath .):$(abspath tests/netguard)" PYTHONWARNINGS=ignore \
		$(PY) -m course_utils.site --out "$(SITE)" $(SITE_ARGS)

fork:
	@test -n "$(REPO)" || { echo "usage: make fork REPO=OWNER/REPO [BRANCH=main]"; exit 1; }
	$(PYTHON) -m course_utils.fork $(REPO) $(if $(BRANCH),--branch $(BRANCH))

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
	index="$$(TORCH_INDEX='$(TORCH_INDEX)' $(PYTHON) -m course_utils.torch_build)" && \
		$(LATEST)/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt torch $${index:+--index-url "$$index"}
	$(LATEST)/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt --upgrade \
		transformers trl peft datasets accelerate bitsandbytes tokenizers tiktoken pandas matplotlib \
		ipykernel nbclient nbval pytest
	$(LATEST)/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt --no-deps -e .
	$(LATEST)/bin/python .ci/drift_report.py
	$(CLEAN) --scratch "$(OUT)/course-test-latest"
	$(subst $(TEST_OUTPUT),$(OUT)/course-test-latest,$(TEST_ENV)) \
		$(LATEST)/bin/python -m pytest notebooks tests/test_api_drift.py --nbval-lax --nbval-current-env -q

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

clean:
	@$(CLEAN) "$(OUT)"
	$(if $(VENV_CLEAN),rm -rf $(VENV) $(LATEST))
