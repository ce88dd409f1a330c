# fraudml — operator interface. `make` (or `make help`) lists the targets.
# Variables: DATA=dataset dir, OUT=output dir, FROM=/UNTIL= period (YYYY-MM-DD; FROM inclusive,
# UNTIL exclusive), ARGS= extra Hydra overrides, MODELS= the model namespace training registers
# and scoring reads, ENGINE= duckdb. MLFLOW_TRACKING_URI is honoured when set.

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
MODELS ?=
ENGINE ?=
VERDICTS ?=

out_arg = $(if $(OUT),out=$(OUT))
period_args = $(if $(FROM),period.start=$(FROM)) $(if $(UNTIL),period.end=$(UNTIL))
models_arg = $(if $(MODELS),models.namespace=$(MODELS))
train_models_arg = $(if $(MODELS),train.namespace=$(MODELS))
engine_arg = $(if $(ENGINE),engine=$(ENGINE))

SOURCE ?= medicare
SRC    ?= ../shared/realdata/medicare-kaggle

.PHONY: help setup pdf java browser demo data import validate profiles rules train quality closed-loop real-data mlflow-ui score serve feedback ledger monitor test lint bench clean

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

# Debian packages, installed when missing: the PDF case packs need WeasyPrint's Pango and
# CJK fonts (make demo, make score); the report's browser test also needs Chromium.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
apt_install = $(SUDO) apt-get install -y --no-install-recommends $(1) >/dev/null || \
	{ $(SUDO) apt-get update >/dev/null && $(SUDO) apt-get install -y --no-install-recommends $(1) >/dev/null; }
PDF_PACKAGES := fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0
pdf:
	@fc-list 2>/dev/null | grep "Noto Sans CJK" >/dev/null && ldconfig -p | grep libpangoft2-1.0 >/dev/null || { \
		echo "setup: installing Debian's $(PDF_PACKAGES) for the PDF case packs"; \
		$(call apt_install,$(PDF_PACKAGES)); }

# engine=spark needs a Java runtime: Debian's OpenJDK when none is found (the Spark
# parity tests run in make test)
java:
	@command -v java >/dev/null || { \
		echo "setup: installing Debian's openjdk-17-jre-headless for engine=spark"; \
		$(call apt_install,openjdk-17-jre-headless); }

browser: pdf
	@command -v chromium >/dev/null || { \
		echo "setup: installing Debian's chromium for the report's browser test"; \
		$(call apt_install,chromium); }

setup: $(STAMP) ## Create .venv and install the pinned dependencies (quick when done)

demo: setup pdf ## Run the main job end to end: simulate, validate, rules, profiles, train, score
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
	$(FRAUDML) validate data.path=$(DATA) $(out_arg) $(engine_arg) $(ARGS)

profiles: setup ## Build patient/provider/doctor profiles of DATA for FROM..UNTIL into OUT
	$(FRAUDML) profiles data.path=$(DATA) $(out_arg) $(period_args) $(engine_arg) $(ARGS)

rules: setup ## Run the rule base (conf/rules/*.yaml) on DATA for FROM..UNTIL; hits into OUT
	$(FRAUDML) rules data.path=$(DATA) $(out_arg) $(period_args) $(engine_arg) $(ARGS)

train: setup ## Train, evaluate and register models on DATA up to UNTIL (MLflow; MLFLOW_TRACKING_URI honoured)
	$(FRAUDML) train data.path=$(DATA) $(period_args) $(train_models_arg) $(engine_arg) $(ARGS)

quality: setup ## Measure the models on the committed synthetic city; writes docs/quality.md
	$(BIN)/python -m fraudml.evaluate.quality

closed-loop: setup ## The closed-loop experiment on the committed city (about 25 min): docs/closed-loop-results.md, shown in docs/quality.md
	$(BIN)/python -m fraudml.evaluate.closed_loop data/synthetic/small docs/closed-loop-results.md

real-data: setup ## Measure the toolkit on the Medicare files (SRC=dir); writes docs/real-data.md
	$(BIN)/python -m fraudml.evaluate.real_data $(SRC)

mlflow-ui: setup ## Open the MLflow UI on the local tracking store (outputs/mlflow)
	$(BIN)/mlflow ui --backend-store-uri $${MLFLOW_TRACKING_URI:-sqlite:///$(CURDIR)/outputs/mlflow/mlflow.db} --port 5000

score: setup pdf ## Score DATA for FROM..UNTIL into OUT (leads, scores, report)
	$(FRAUDML) score data.path=$(DATA) $(out_arg) $(period_args) $(models_arg) $(engine_arg) $(ARGS)

# serve: DATA only when given (make serve DATA=dir), not the committed city by default
PORT ?= 8000
serve: setup ## Serve the rule base over HTTP on 127.0.0.1:PORT (8000); DATA=dir: its claims as history
	$(FRAUDML) serve $(if $(filter command line environment,$(origin DATA)),data.path=$(DATA)) port=$(PORT) $(ARGS)

feedback: setup ## Turn auditors' verdicts (VERDICTS=file: CSV, XLSX or Parquet, a filled-in report.xlsx too) into labels of DATA
	$(FRAUDML) feedback data.path=$(DATA) verdicts=$(VERDICTS) $(ARGS)

ledger: setup ## Practitioners' points ledger (驾照式记分) and providers' credit rating from DATA's verdicts up to UNTIL, into OUT
	$(FRAUDML) ledger data.path=$(DATA) $(if $(UNTIL),until=$(UNTIL)) $(out_arg) $(ARGS)

monitor: setup ## The monitoring report (动态监测专报) of DATA for FROM..UNTIL into OUT (HTML and XLSX)
	$(FRAUDML) monitor data.path=$(DATA) $(out_arg) $(period_args) $(engine_arg) $(ARGS)

test: setup browser java ## Run the test suite in two processes (installs Chromium, Pango and a JDK when missing)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile $(ARGS)

lint: setup ## ruff check and format check
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: setup ## Benchmarks at 10M fee lines; writes docs/benchmarks.md
	$(BIN)/python -m benchmarks.run $(ARGS)

clean: ## Remove outputs, caches and generated data (keeps .venv and committed data)
	rm -rf outputs data/generated data/bench .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +
