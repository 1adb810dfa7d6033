# The two commands: `make demo` (the example fleet, end to end) and `make test` (every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO ?= build/demo
META := $(abspath $(BIN))/meta
PY := $(abspath $(BIN))/python

.PHONY: demo test bench system-deps pipeline-tools clean

$(BIN)/meta: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/meta

# Debian packages the suite needs: git, and a Docker engine, registry and static
# busybox for the image and rollout tests (the suite starts its own dockerd).
system-deps:
	@sh scripts/system-deps.sh

# gitlab-ci-local and the Node.js 22 it runs on, from the npm registry into tests/pipeline/.node/
# (git-ignored), for the test that runs a generated GitLab pipeline for real (tests/pipeline).
pipeline-tools:
	@sh scripts/pipeline-tools.sh

demo: $(BIN)/meta
	@# the fleet's own `make test` must not inherit this make's flags
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	@# each service with a last release tag and Conventional Commits since (staging runs the tagged ones), and
	@# staging's platform in .meta: routes, metrics, SLOs, an edge proxy, analysis, a broker, a log driver
	$(PY) examples/make_fleet.py --release-history --platform $(DEMO) > $(DEMO)/meta-url
	cd $(DEMO) && $(META) clone "$$(cat meta-url)" workspace
	cd $(DEMO)/workspace && $(META) status
	cd $(DEMO)/workspace && $(META) exec "git log --oneline -1"
	cd $(DEMO)/workspace && env -u MAKEFLAGS -u MAKELEVEL $(META) exec --tag core -- make test
	cd $(DEMO)/workspace && $(META) project list
	-cd $(DEMO)/workspace && $(META) contracts check  # the fleet ships one breaking pair: exit 1 is expected
	@# the graph page goes under .metarepo/, which git ignores in a meta repo
	cd $(DEMO)/workspace && $(META) graph --format html -o .metarepo/graph.html && $(META) graph
	@# images: what would be built, and a rollout plan in the contracts' order (no Docker engine needed for either)
	cd $(DEMO)/workspace && $(META) build --dry-run
	cd $(DEMO)/workspace && $(META) rollout staging --dry-run --exclude notifications
	@# the platform around the rollout, all from .meta and the contract graph: the edge proxy's routes,
	@# Prometheus' targets and SLO alerts (under .metarepo/monitoring), the broker's queues and retries
	cd $(DEMO)/workspace && $(META) proxy render staging
	cd $(DEMO)/workspace && $(META) monitor render staging -o .metarepo/monitoring
	cd $(DEMO)/workspace && $(META) broker plan staging
	@# the next release train: versions from the commits, changelogs, the contracts gate against staging, the order
	cd $(DEMO)/workspace && $(META) release plan --to staging
	@# CI pipelines (last: generating them changes the checkouts): none yet, so exit 1 is
	@# expected; then written from ci-templates/, and in step
	-cd $(DEMO)/workspace && $(META) ci check
	cd $(DEMO)/workspace && $(META) ci generate && $(META) ci check
	@# the scorecard: which services follow the architecture, and what to do about the rest (a low score is
	@# information here, so no --min-score); the page is .metarepo/doctor.html
	cd $(DEMO)/workspace && $(META) doctor --html .metarepo/doctor.html

test: system-deps $(BIN)/meta pipeline-tools
	$(BIN)/python -m pytest

bench: $(BIN)/meta
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build
