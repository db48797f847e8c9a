# Fine-tune an LLM with PyTorch: set-up, run the course, test it.
#   make setup    .venv/ with torch (pinned, installed first) + requirements + course_utils
#   make course   execute the notebooks in order with the profile that fits this machine
#   make test     unit tests + every notebook under nbval (smoke profile, offline)
#   make test-ui  JupyterLab in headless chromium: notebook 06 runs and shows what a learner sees;
#                 then the site (make site) opened page by page
#   make site     the course as HTML pages from executed notebooks (offline, smoke) in $(OUTPUT)/site/html
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
# COURSE_OUTPUT_DIR, with a leading ~ expanded as the notebooks do (make's abspath would not)
OUTPUT ?= $(patsubst ~%,$(HOME)%,$(or $(strip $(COURSE_OUTPUT_DIR)),outputs))
# What the course writes in $(OUTPUT); `make clean` removes these and nothing else (the folder may
# be one of the learner's own, e.g. COURSE_OUTPUT_DIR=$HOME/course), plus leftovers of atomic writes.
COURSE_OUTPUTS := adapter adapter.previous adapter-chat adapter-chat.previous checkpoints checkpoints-chat merged figures executed unpacked \
	test test-latest ui site .run.lock
TEST_OUTPUT := $(OUTPUT)/test
# the test environment: smoke profile, no network to any hub, no progress bars in nbval diffs
TEST_ENV := COURSE_PROFILE=smoke COURSE_OUTPUT_DIR=$(abspath $(TEST_OUTPUT)) \
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TQDM_DISABLE=1 \
	HF_HUB_DISABLE_TELEMETRY=1 COURSE_BLOCK_NETWORK=1 PYTHONPATH=$(abspath .):$(abspath tests/netguard) \
	MPLBACKEND=Agg PYTHONWARNINGS=ignore

.PHONY: setup course test test-ui site fork test-latest bench gpu-check lab clean

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
	mkdir -p $(OUTPUT)/executed
	COURSE_OUTPUT_DIR=$(abspath $(OUTPUT)) $(VENV)/bin/jupyter nbconvert \
		--to notebook --execute --ExecutePreprocessor.timeout=-1 \
		--output-dir $(OUTPUT)/executed notebooks/0*.ipynb
	@echo "executed notebooks are in $(OUTPUT)/executed"

test: setup
	rm -rf $(TEST_OUTPUT)
	$(TEST_ENV) $(PY) -m pytest tests notebooks solutions --nbval-lax --nbval-current-env \
		--durations=10 -q

# The front-end as a learner sees it: JupyterLab driven by Playwright in Debian's chromium
# (apt-get install chromium; no browser download). Screenshots land in $(OUTPUT)/ui/.
UI_STAMP := $(VENV)/.ui-installed
CHROMIUM ?= /usr/bin/chromium
$(UI_STAMP): $(STAMP) tests/ui/requirements.txt
	$(PIP) -c constraints.txt -r tests/ui/requirements.txt
	touch $(UI_STAMP)

test-ui: $(UI_STAMP)
	@test -x $(CHROMIUM) || { echo "make test-ui needs chromium at $(CHROMIUM): apt-get install -y chromium"; exit 1; }
	rm -rf $(OUTPUT)/ui
	$(MAKE) --no-print-directory site SITE=$(abspath $(OUTPUT)/ui/site)
	COURSE_UI_TEST=1 CHROMIUM=$(CHROMIUM) COURSE_OUTPUT_DIR=$(abspath $(OUTPUT)/ui) \
		COURSE_SITE_DIR=$(abspath $(OUTPUT)/ui/site/html) \
		$(PY) -m pytest tests/ui -v -s -p no:cacheprovider

# The course as a site: every notebook executed offline (SITE_PROFILE, default smoke; network
# blocked as in the tests), progress bars kept (no TQDM_DISABLE), then HTML pages + index
# (course_utils/site.py). GitHub Pages serves $(SITE)/html (.github/workflows/site.yml).
SITE ?= $(OUTPUT)/site
SITE_PROFILE ?= smoke
site: setup
	rm -rf $(SITE)/run $(SITE)/executed
	mkdir -p $(SITE)/run
	COURSE_PROFILE=$(SITE_PROFILE) COURSE_OUTPUT_DIR=$(abspath $(SITE))/run HF_HUB_OFFLINE=1 \
		HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 COURSE_BLOCK_NETWORK=1 \
		PYTHONPATH=$(abspath .):$(abspath tests/netguard) PYTHONWARNINGS=ignore \
		$(PY) -m course_utils.site --out $(SITE) $(SITE_ARGS)

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
	rm -rf $(OUTPUT)/test-latest
	$(subst $(abspath $(TEST_OUTPUT)),$(abspath $(OUTPUT)/test-latest),$(TEST_ENV)) \
		$(LATEST)/bin/python -m pytest notebooks tests/test_api_drift.py --nbval-lax --nbval-current-env -q

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

clean:
	@if [ -d "$(OUTPUT)" ]; then \
		cd "$(OUTPUT)" && for name in $(COURSE_OUTPUTS); do rm -rf "./$$name" ./."$$name".tmp-* ./."$$name".old-* ./."$$name".trash-*; done; \
		cd - >/dev/null; rmdir "$(OUTPUT)" 2>/dev/null || echo "kept $(OUTPUT): it holds files the course did not write"; \
	fi
	$(if $(VENV_CLEAN),rm -rf $(VENV) $(LATEST))
