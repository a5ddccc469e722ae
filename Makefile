# Oversight developer commands. `make run` and `make test` bootstrap
# everything they need on a machine that has only Python (>= 3.11).
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON_BOOT := $(shell scripts/find-python)
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
# This machine's pip config may name local mirrors that do not exist; keep pip quiet about them.
PIP := PIP_DISABLE_PIP_VERSION_CHECK=1 $(PY) -m pip

.PHONY: help dev test unit integration e2e fuzz run token bench load openapi reset validate build deploy clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt layers/oversight/requirements.txt
	@echo "bootstrapping $(VENV) with $(PYTHON_BOOT)"
	@test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	@$(PIP) install --quiet --upgrade pip 2>&1 | grep -v 'is ignored: it is neither' || true
	@$(PIP) install --quiet -r requirements-dev.txt 2>&1 | grep -v 'is ignored: it is neither' || true
	@$(PY) -c 'import aws_lambda_powertools, moto, pydantic, pytest, jwt, yaml' # fail here if the install did
	@touch $@

dev: $(VENV)/.installed  ## Create the virtualenv (.venv)

test: $(VENV)/.installed  ## Run every test (unit, integration, end-to-end)
	$(PY) -m pytest

unit: $(VENV)/.installed  ## Unit tests only (pure domain)
	$(PY) -m pytest tests/unit

integration: $(VENV)/.installed  ## Handlers in-process against moto
	$(PY) -m pytest tests/integration

e2e: $(VENV)/.installed  ## Real HTTP against the local runtime
	$(PY) -m pytest tests/e2e

fuzz: $(VENV)/.installed  ## Longer contract fuzzing (schemathesis) against the local runtime: FUZZ_EXAMPLES=300
	OVERSIGHT_FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-300} $(PY) -m pytest tests/e2e/test_contract_fuzzing.py

run: $(VENV)/.installed  ## Serve the API on http://127.0.0.1:$${PORT:-3000} with emulated AWS
	$(PY) -m local_runtime serve

token: $(VENV)/.installed  ## Print a local JWT: make token SUB=alice ROLES=operator TENANT=acme
	@$(PY) -m local_runtime token --sub "$${SUB:-alice}" --roles "$${ROLES:-admin}" --tenant "$${TENANT:-acme}"

bench: $(VENV)/.installed  ## DynamoDB requests/items per operation at 1k/10k/100k records, cold imports
	$(PY) -m bench.run $${SIZES:+--sizes $$SIZES}

load: $(VENV)/.installed  ## Bounded load on a fresh local runtime: CLIENTS=10 SECONDS=30 RECORDS=10000 THINK_MS=250
	$(PY) -m bench.load --clients $${CLIENTS:-10} --seconds $(or $(SECONDS),30) --records $${RECORDS:-10000} \
		--think-ms $${THINK_MS:-250}

openapi: $(VENV)/.installed  ## Regenerate docs/openapi.json from the functions' routes and models
	$(PY) -m local_runtime openapi

reset:  ## Wipe the local runtime's data (.oversight/)
	rm -rf .oversight

$(SAM):
	@test -x $(SAM_VENV)/bin/python || $(PYTHON_BOOT) -m venv $(SAM_VENV)
	@PIP_DISABLE_PIP_VERSION_CHECK=1 $(SAM_VENV)/bin/pip install --quiet aws-sam-cli 2>&1 | grep -v 'is ignored: it is neither' || true
	@test -x $(SAM)

validate: $(SAM)  ## sam validate --lint
	$(SAM) validate --lint

build: $(SAM)  ## sam build (needs python3.13 for the runtime)
	PATH="$(dir $(PYTHON_BOOT)):$$PATH" $(SAM) build

deploy: build  ## sam deploy --guided
	$(SAM) deploy --guided

clean:  ## Remove virtualenvs and build output
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache
