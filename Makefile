# Oversight developer commands. `make run` and `make test` bootstrap
# everything they need on a machine that has only Python (>= 3.11).
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Looked up only by the targets that use it (`=`, not `:=`): `make -s token` does not pay for it.
PYTHON_BOOT = $(shell scripts/find-python)
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0

.PHONY: help dev test unit integration e2e fuzz lint run token bench load openapi reset validate build deploy clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

# Safe when several targets start it at once (`make run &` then `make -s token`): one bootstraps under a lock,
# the others wait for it. Its messages and pip's output go to stderr, so `make -s token` prints only the token.
$(VENV)/.installed: requirements-dev.txt layers/oversight/requirements.txt clients/python/pyproject.toml
	@$(PYTHON_BOOT) scripts/bootstrap-venv $(VENV) $@ 'aws_lambda_powertools, moto, pydantic, pytest, jwt, yaml, oversight_client' \
		$(filter %.txt,$^)

dev: $(VENV)/.installed  ## Create the virtualenv (.venv)

# The server suite on one pytest-xdist worker per core (TEST_WORKERS=0: in one process); a test file's tests stay on
# one worker (--dist loadfile in pyproject.toml), so a module's runtime is started once, as in a serial run.
TEST_WORKERS ?= auto

test: $(VENV)/.installed  ## Run every test (unit, integration, end-to-end, browser; then the client's): TEST_WORKERS=auto
	$(PY) -m pytest -n $(TEST_WORKERS)
	$(MAKE) --no-print-directory client

.PHONY: client
client: $(VENV)/.installed  ## The Python client's and the `oversight` command's tests (clients/python, its own config)
	cd clients/python && ../../$(PY) -m pytest

unit: $(VENV)/.installed  ## Unit tests only (pure domain)
	$(PY) -m pytest tests/unit

integration: $(VENV)/.installed  ## Handlers in-process against moto
	$(PY) -m pytest tests/integration

e2e: $(VENV)/.installed  ## Real HTTP against the local runtime
	$(PY) -m pytest tests/e2e

.PHONY: browser
browser: $(VENV)/.installed  ## The console in headless Chromium (/usr/bin/chromium) against the local runtime
	$(PY) -m pytest tests/browser

fuzz: $(VENV)/.installed  ## Longer contract fuzzing (schemathesis) against the local runtime: FUZZ_EXAMPLES=300
	OVERSIGHT_FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-300} $(PY) -m pytest tests/e2e/test_contract_fuzzing.py

# Every check runs even after one finds something, so one pass shows every finding; the target fails if any did.
# mypy checks the layer package ([tool.mypy] in pyproject.toml) and, strictly, the client package.
lint: $(VENV)/.installed  ## ruff check and ruff format --check on the tree, mypy on the layer package
	@failed=0; \
	for check in "ruff check ." "ruff format --check ." "mypy" "mypy --strict clients/python/src"; do \
		echo "$(VENV)/bin/$$check"; $(VENV)/bin/$$check || failed=1; \
	done; \
	exit $$failed

run: $(VENV)/.installed  ## Serve the API on http://127.0.0.1:$${PORT:-3000} with emulated AWS
	$(PY) -m local_runtime serve

# Only the variables that are set are passed on, so that `ROLES=` (set, empty) is refused rather than defaulted.
token: $(VENV)/.installed  ## Print a local JWT: make token SUB=alice ROLES=operator TENANT=acme TTL=3600 EXPIRED=1
	@$(PY) -m local_runtime token $${SUB+"--sub=$$SUB"} $${ROLES+"--roles=$$ROLES"} $${TENANT+"--tenant=$$TENANT"} \
		$${TTL+"--ttl=$$TTL"} $${EXPIRED+"--expired=$$EXPIRED"}

bench: $(VENV)/.installed  ## Requests/items per operation at 1k/10k/100k records; cold starts A/B; layer size
	$(PY) -m bench.run $${SIZES:+--sizes $$SIZES} $${RUNS:+--runs $$RUNS}

load: $(VENV)/.installed  ## Bounded load on a fresh local runtime: CLIENTS=10 SECONDS=30 RECORDS=10000 THINK_MS=250
	$(PY) -m bench.load --clients $${CLIENTS:-10} --seconds $(or $(SECONDS),30) --records $${RECORDS:-10000} \
		--think-ms $${THINK_MS:-250}

openapi: $(VENV)/.installed  ## Regenerate docs/openapi.json from the functions' routes and models
	$(PY) -m local_runtime openapi

# The system Python, not the venv: a reset must work before (or without) a bootstrap.
reset:  ## Wipe the local runtime's data (.oversight/); refused while `make run` uses it
	@$(or $(PYTHON_BOOT),python3) scripts/reset-state "$${OVERSIGHT_LOCAL_STATE_DIR:-.oversight}"

$(SAM):
	@test -x $(SAM_VENV)/bin/python || $(PYTHON_BOOT) -m venv $(SAM_VENV)
	@PIP_DISABLE_PIP_VERSION_CHECK=1 $(SAM_VENV)/bin/pip install --quiet aws-sam-cli 2>&1 | grep -v 'is ignored: it is neither' || true
	@test -x $(SAM)

validate: $(SAM)  ## sam validate --lint
	$(SAM) validate --lint

# sam runs the layer's Makefile in this environment: the boot Python's folder first on PATH, so that its
# `python3.13` (when the boot Python is the runtime's) is the one the layer's bytecode is compiled with; otherwise
# the layer's Makefile looks for a 3.13 itself (pyenv) and says so if there is none.
build: $(SAM)  ## sam build (needs python3.13 for the runtime)
	PATH="$(dir $(PYTHON_BOOT)):$$PATH" $(SAM) build

deploy: build  ## sam deploy --guided
	$(SAM) deploy --guided

clean:  ## Remove virtualenvs and build output
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache
