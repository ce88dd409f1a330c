# fraudml — operator interface. `make` (or `make help`) lists the targets.
# Variables: DATA=dataset dir, OUT=output dir, FROM=/UNTIL= period (YYYY-MM-DD; FROM inclusive,
# UNTIL exclusive), ARGS= extra Hydra overrides. MLFLOW_TRACKING_URI is honoured when set.

.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON  ?= python3.11
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
FRAUDML := $(BIN)/fraudml

DATA  ?= data/synthetic/small
OUT   ?=
FROM  ?=
UNTIL ?=
ARGS  ?=

out_arg = $(if $(OUT),out=$(OUT))

SOURCE ?= medicare
SRC    ?= ../shared/realdata/medicare-kaggle

.PHONY: help setup browser demo data import validate profiles rules train quality real-data mlflow-ui score serve test lint bench clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "setup: $(PYTHON) not found (fraudml needs Python 3.11)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e . || \
		$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

# The report's browser test needs a real Chromium and CJK fonts (Debian packages).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@command -v chromium >/dev/null && fc-list 2>/dev/null | grep -q "Noto Sans CJK" || { \
		echo "setup: installing Debian's chromium and fonts-noto-cjk for the report's browser test"; \
		$(SUDO) apt-get install -y --no-install-recommends chromium fonts-noto-cjk >/dev/null || \
		{ $(SUDO) apt-get update >/dev/null && \
		  $(SUDO) apt-get install -y --no-install-recommends chromium fonts-noto-cjk >/dev/null; }; }

setup: $(STAMP) ## Create .venv and install the pinned dependencies (quick when done)

demo: setup ## Run the main job end to end: simulate, validate, rules, profiles, train, score
	$(FRAUDML) simulate out=outputs/demo/data
	$(FRAUDML) validate data.path=outputs/demo/data out=outputs/demo/validate
	$(FRAUDML) rules data.path=outputs/demo/data out=outputs/demo/rules
	$(FRAUDML) profiles data.path=outputs/demo/data out=outputs/demo/profiles
	$(FRAUDML) train data.path=outputs/demo/data train.out=outputs/demo/train
	$(FRAUDML) score data.path=outputs/demo/data period.start=2024-11-01 period.end=2024-12-01 out=outputs/demo/score
	@echo "demo: done. Leads and report: outputs/demo/score (report.html, report.xlsx); models: make mlflow-ui"

data: setup ## Generate a synthetic city (OUT=dir; ARGS="simulate=city" for 50,000 people)
	$(FRAUDML) simulate $(out_arg) $(ARGS)

import: setup ## Turn a source extract into a dataset (SOURCE=medicare|national SRC=dir OUT=dir; ARGS="mapping=file.yaml")
	$(FRAUDML) import $(SOURCE) $(SRC) $(if $(OUT),$(OUT),data/generated/$(SOURCE)) $(ARGS)

validate: setup ## Validate DATA, quarantine bad rows under OUT/quarantine, reconcile counts
	$(FRAUDML) validate data.path=$(DATA) $(out_arg) $(ARGS)

profiles: setup ## Build patient/provider/doctor profiles of DATA for FROM..UNTIL into OUT
	$(FRAUDML) profiles data.path=$(DATA) $(out_arg) $(if $(FROM),period.start=$(FROM)) $(if $(UNTIL),period.end=$(UNTIL)) $(ARGS)

rules: setup ## Run the rule base (conf/rules/*.yaml) on DATA for FROM..UNTIL; hits into OUT
	$(FRAUDML) rules data.path=$(DATA) $(out_arg) $(if $(FROM),period.start=$(FROM)) $(if $(UNTIL),period.end=$(UNTIL)) $(ARGS)

train: setup ## Train, evaluate and register models on DATA up to UNTIL (MLflow; MLFLOW_TRACKING_URI honoured)
	$(FRAUDML) train data.path=$(DATA) $(if $(FROM),period.start=$(FROM)) $(if $(UNTIL),period.end=$(UNTIL)) $(ARGS)

quality: setup ## Measure the models on the committed synthetic city; writes docs/quality.md
	$(BIN)/python -m fraudml.evaluate.quality

real-data: setup ## Measure the toolkit on the Medicare files (SRC=dir); writes docs/real-data.md
	$(BIN)/python -m fraudml.evaluate.real_data $(SRC)

mlflow-ui: setup ## Open the MLflow UI on the local tracking store (outputs/mlflow)
	$(BIN)/mlflow ui --backend-store-uri $${MLFLOW_TRACKING_URI:-sqlite:///$(CURDIR)/outputs/mlflow/mlflow.db} --port 5000

score: setup ## Score DATA for FROM..UNTIL into OUT (leads, scores, report)
	$(FRAUDML) score data.path=$(DATA) $(out_arg) $(if $(FROM),period.start=$(FROM)) $(if $(UNTIL),period.end=$(UNTIL)) $(ARGS)

# serve: DATA only when given (make serve DATA=dir), not the committed city by default
PORT ?= 8000
serve: setup ## Serve the rule base over HTTP on 127.0.0.1:PORT (8000); DATA=dir: its claims as history
	$(FRAUDML) serve $(if $(filter command line environment,$(origin DATA)),data.path=$(DATA)) port=$(PORT) $(ARGS)

test: setup browser ## Run the test suite (installs Chromium for the report test when missing)
	$(BIN)/python -m pytest -q $(ARGS)

lint: setup ## ruff check and format check
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: setup ## Benchmarks at 10M fee lines; writes docs/benchmarks.md
	$(BIN)/python -m benchmarks.run $(ARGS)

clean: ## Remove outputs, caches and generated data (keeps .venv and committed data)
	rm -rf outputs data/generated data/bench .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +
