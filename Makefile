# Two commands from a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export HELMFILE_V1MODE := true
# Chart data of the pinned versions, packed into the package for `validate` (not committed).
UPSTREAM_CHARTS ?= $(CURDIR)/../shared/upstream/charts
CHART_DATA := cluster_mgmt/_data/charts.zip

.PHONY: demo test test-fast test-unit lint bench venv tools system clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(CHART_DATA): scripts/build_chart_data.py cluster_mgmt/core/stack.py cluster_mgmt/adapters/chart_data.py $(wildcard $(UPSTREAM_CHARTS)/*/*/* $(UPSTREAM_CHARTS)/*/*/*/*/*) | $(VENV)/.installed
	$(BIN)/python scripts/build_chart_data.py $(UPSTREAM_CHARTS)

venv: $(VENV)/.installed $(CHART_DATA)

tools: venv
	scripts/install-tools.sh $(BIN)

system:
	scripts/install-system.sh

demo: venv
	scripts/install-tools.sh $(BIN) helm helmfile
	rm -rf demo
	$(BIN)/cluster-mgmt init demo --provider kind --env dev --gitlab-url https://gitlab.com \
		--agent-project my-group/cluster-management --agent demo-agent --base-domain 127.0.0.1.nip.io
	$(BIN)/cluster-mgmt -C demo render
	$(BIN)/cluster-mgmt -C demo validate
	cd demo && helmfile --environment dev build >/dev/null && echo "helmfile build: ok"
	@echo "demo project ready in ./demo"

# Static checks first: a lint or type error fails `make test` like a failed test.
# `make test` (CI) runs every test; `make test-fast` leaves out the long statistics tests.
test: venv system tools lint
	$(BIN)/python -m pytest -q

test-fast: venv system tools lint
	$(BIN)/python -m pytest -q -m "not long"

lint: venv
	$(BIN)/ruff check cluster_mgmt tests benchmarks
	$(BIN)/ruff format --check cluster_mgmt
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: venv tools system
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) demo .pytest_cache
