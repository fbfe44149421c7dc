# The two commands a newcomer needs: `make dev` and `make test`. Everything else is a building block.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEV_LOCK := requirements/dev.txt
# The project's own Node (an LTS line from npm, see package.json) runs npm, the CDK CLI, jsii and Pyodide.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help prereqs prereqs-local install lock dev test lint test-unit test-infra test-integration bench layer \
        synth deploy diff stage-named token verify-ledger redrive replay clean

help:
	@echo "make dev    - start the local stack with a demo organisation (Ctrl-C stops it)"
	@echo "make test   - install what is needed and run lint, unit, infra and integration tests"
	@echo "make bench  - benchmark handlers against bare DynamoDB calls (writes bench/results/)"
	@echo "make synth  - synthesize the CDK app (offline)"
	@echo "make deploy STAGE=<stage> - rebuild the layer and deploy the stage (cdk.json 'stages'; docs/deploy.md)"
	@echo "make diff STAGE=<stage>   - what a deployment of the stage would change"
	@echo "make lock   - regenerate requirements/*.txt from pyproject.toml (ARGS=--upgrade for newer versions)"
	@echo "Operator tools: the running 'make dev' stack, or STAGE=<stage> with your AWS credentials (docs/deploy.md)"
	@echo "make verify-ledger - recompute every wallet balance from its ledger entries and report drift"
	@echo "make redrive       - move dead letters back to their consumers' queues (ARGS='--dry-run')"
	@echo "make replay        - hand the changes the stream dispatcher gave up on to the consumers' queues"
	@echo "                     (read back from the stream, which keeps them 24 hours; ARGS='--dry-run')"

prereqs:
	@bash local/check_prereqs.sh

# The local stack's DynamoDB Local also needs Java; deploying does not.
prereqs-local:
	@bash local/check_prereqs.sh --local

# Exactly the lock, every file checked against its hash (pip itself included: the lock pins it).
$(VENV)/.installed: $(DEV_LOCK) | prereqs
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r $(DEV_LOCK)
	@touch $@

node_modules/.installed: package.json package-lock.json | prereqs
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(VENV)/.installed node_modules/.installed

lock: $(VENV)/.installed
	$(PY) -m infra.lock $(ARGS)

# mypy checks the paths of pyproject.toml's [tool.mypy] files.
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test-unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit -q -n 2

layer: install
	$(PY) -m infra.build_layer

test-infra: install layer
	$(PY) -m pytest tests/infra -q

# Two workers, each with its own local stack; a file's tests stay on one worker (they share its fixtures).
test-integration: prereqs-local install
	$(PY) -m pytest tests/integration -q -n 2 --dist loadfile

test: install lint test-unit test-infra test-integration

synth: install layer
	npx cdk synth --quiet

# A stage's settings come from cdk.json "stages" (-c key=value on top via ARGS); the credentials are yours.
deploy: stage-named install layer
	npx cdk deploy -c stage=$(STAGE) --require-approval broadening --outputs-file cdk-outputs.$(STAGE).json $(ARGS)

diff: stage-named install layer
	npx cdk diff -c stage=$(STAGE) $(ARGS)

stage-named:
	@test -n "$(STAGE)" || { echo "name the stage: make $(MAKECMDGOALS) STAGE=<stage>" >&2; exit 2; }

dev: prereqs-local install
	$(PY) -m local.dev

token: install
	@$(PY) -m local.token $(ARGS)

# The operator tools (ops/): the running `make dev` stack, or STAGE=<stage> (found by its stack's outputs, with
# your AWS credentials; ARGS='--region <r> --profile <p>' and each tool's own options, e.g. --dry-run).
verify-ledger: $(VENV)/.installed
	@$(PY) -m ops.verify_ledger $(if $(STAGE),--stage $(STAGE)) $(ARGS)

# Dead letters back to their queues, once what made them fail is fixed (ARGS='--consumer PayoutsEvents').
redrive: $(VENV)/.installed
	@$(PY) -m ops.redrive $(if $(STAGE),--stage $(STAGE)) $(ARGS)

# The changes the stream dispatcher gave up on (its failure queue), read back from the stream and handed on.
replay: $(VENV)/.installed
	@$(PY) -m ops.replay $(if $(STAGE),--stage $(STAGE)) $(ARGS)

bench: prereqs-local install
	$(PY) -m bench.run

clean:
	rm -rf .build cdk.out .pytest_cache .mypy_cache .ruff_cache
