# The two commands: `make demo` (the example fleet, end to end) and `make test` (every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO := build/demo

.PHONY: demo test bench system-deps clean

$(BIN)/meta: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/meta

# Debian packages the suite needs: git, and a Docker engine, registry and static
# busybox for the image and rollout tests (the suite starts its own dockerd).
system-deps:
	@sh scripts/system-deps.sh

demo: $(BIN)/meta
	@# the fleet's own `make test` must not inherit this make's flags
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(BIN)/python examples/make_fleet.py $(DEMO) > $(DEMO)/meta-url
	cd $(DEMO) && ../../$(BIN)/meta clone "$$(cat meta-url)" workspace
	cd $(DEMO)/workspace && ../../../$(BIN)/meta status
	cd $(DEMO)/workspace && ../../../$(BIN)/meta exec "git log --oneline -1"
	cd $(DEMO)/workspace && env -u MAKEFLAGS -u MAKELEVEL ../../../$(BIN)/meta exec --tag core -- make test
	cd $(DEMO)/workspace && ../../../$(BIN)/meta project list
	-cd $(DEMO)/workspace && ../../../$(BIN)/meta contracts check  # the fleet ships one breaking pair: exit 1 is expected
	cd $(DEMO)/workspace && ../../../$(BIN)/meta graph --format html -o graph.html && ../../../$(BIN)/meta graph
	@# images: what would be built, and a rollout plan in the contracts' order (no Docker engine needed for either)
	cd $(DEMO)/workspace && ../../../$(BIN)/meta build --dry-run
	cd $(DEMO)/workspace && ../../../$(BIN)/meta rollout staging --dry-run --exclude notifications

test: system-deps $(BIN)/meta
	$(BIN)/python -m pytest

bench: $(BIN)/meta
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build
