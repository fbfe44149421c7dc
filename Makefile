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
        synth deploy diff preflight stage-named token verify-ledger redrive replay event-schemas clean

help:
	@echo "The two commands:"
	@echo "  make dev      - start the local stack with a demo organisation (Ctrl-C stops it); ARGS=--keep-data"
	@echo "                  keeps the data between runs (--fresh starts over), ARGS=--no-demo starts empty"
	@echo "  make test     - install what is needed and run lint, unit, infra and integration tests"
	@echo "Parts of the test run:"
	@echo "  make lint     - ruff (lint and format check) and mypy"
	@echo "  make test-unit / test-infra / test-integration - one suite"
	@echo "With the local stack running (make dev):"
	@echo "  make token ARGS=<e-mail>  - a fresh token for a demo user (ARGS='--client-id ID --client-secret S'"
	@echo "                              for a partner company)"
	@echo "Operator tools: the running 'make dev' stack, or STAGE=<stage> with your AWS credentials (docs/deploy.md)"
	@echo "  make verify-ledger - recompute every wallet balance from its ledger entries and report drift"
	@echo "  make redrive  - move dead letters back to their consumers' queues (ARGS='--dry-run')"
	@echo "  make replay   - hand the changes the stream dispatcher gave up on to the consumers' queues"
	@echo "                  (read back from the stream, which keeps them 24 hours; ARGS='--dry-run')"
	@echo "Deploying (docs/deploy.md):"
	@echo "  make synth    - synthesize the CDK app offline (writes cdk.out/)"
	@echo "  make preflight STAGE=<stage> - check the account before a deploy, read-only (bootstrap, Twilio"
	@echo "                  parameter, SES production access and sender, Lambda concurrency)"
	@echo "  make deploy STAGE=<stage> - rebuild the layer and deploy the stage's stacks (cdk.json 'stages')"
	@echo "  make diff STAGE=<stage>   - what a deployment of the stage would change"
	@echo "  make layer    - build the functions' layer (.build/layer) that synth and deploy package"
	@echo "Housekeeping:"
	@echo "  make bench    - benchmark handlers against bare DynamoDB calls (writes bench/results/)"
	@echo "  make install  - the .venv and node packages only (every command does it when needed)"
	@echo "  make prereqs  - check Python and npm, saying what is missing (make prereqs-local: and Java)"
	@echo "  make lock     - regenerate requirements/*.txt from pyproject.toml (ARGS=--upgrade for newer versions)"
	@echo "  make event-schemas - write each event type's JSON Schema to docs/events/ (after a catalogue change)"
	@echo "  make clean    - remove build outputs and caches (.build, cdk.out, tool caches)"

prereqs:
	@bash local/check_prereqs.sh

# The local stack's DynamoDB Local also needs Java; deploying does not.
prereqs-local:
	@bash local/check_prereqs.sh --local

# Exactly the lock, every file checked against its hash (pip itself included: the lock pins it).
$(VENV)/.installed: $(DEV_LOCK) | prereqs
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing the Python packages of $(DEV_LOCK) into $(VENV) (the first time takes a minute or two)..."
	@$(PY) -m pip install --disable-pip-version-check --require-hashes --progress-bar off -r $(DEV_LOCK) \
		| grep --line-buffered -E '^(Collecting|Successfully installed)' | sed -u 's/^Collecting /  /'; \
		test "$${PIPESTATUS[0]}" -eq 0
	@touch $@

node_modules/.installed: package.json package-lock.json | prereqs
	@echo "Installing the node packages (CDK CLI, DynamoDB Local, Node.js 24, Swagger UI)..."
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
	npx cdk synth --quiet $(ARGS)
	@echo "Synthesized into cdk.out/: $$(cd cdk.out && ls *.template.json | tr '\n' ' ')(docs/deploy.md deploys them)"

# A stage's settings come from cdk.json "stages" (-c key=value on top via ARGS); the credentials are yours.
# --all: the stage's stacks, in order (a protected stage's edge stack in us-east-1 first, then its main stack).
deploy: stage-named install layer
	npx cdk deploy --all -c stage=$(STAGE) --require-approval broadening --outputs-file cdk-outputs.$(STAGE).json $(ARGS)

# Read-only checks of the account a stage deploys into, with your AWS credentials (docs/deploy.md).
preflight: stage-named $(VENV)/.installed
	@$(PY) -m ops.preflight --stage $(STAGE) $(ARGS)

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

# The events' JSON Schemas, published with the code (a unit test checks they are current).
event-schemas: $(VENV)/.installed
	@$(PY) -m local.event_schemas

clean:
	rm -rf .build cdk.out .pytest_cache .mypy_cache .ruff_cache
