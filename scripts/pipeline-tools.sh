#!/bin/sh
# Install what the real pipeline run (tests/pipeline/) needs, so that the test itself reaches no network:
# - tests/pipeline/.node/: gitlab-ci-local and the Node.js 22 it needs (npm's `node` package: Debian's
#   node is older), pinned, from the npm registry through npm; nothing is installed globally;
# - tests/pipeline/.wheels/: the wheels of everything metarepo[contracts] depends on, and of the setuptools
#   that builds it, from the Python package index through pip: the pipeline's runners install meta from
#   there with no index, as runners with their own mirror do.
# Idempotent and quiet when both are there (stamp files name what they hold).
set -eu
cd "$(dirname "$0")/.."
NODE_VERSION=22.23.3
GCL_VERSION=4.75.1
PYTHON=${PYTHON:-.venv/bin/python}

node=tests/pipeline/.node
want="node@$NODE_VERSION gitlab-ci-local@$GCL_VERSION"
if [ -f "$node/installed" ] && [ "$(cat "$node/installed")" = "$want" ] \
   && [ -x "$node/node_modules/.bin/gitlab-ci-local" ] && [ -x "$node/node_modules/.bin/node" ]; then
  :
elif ! command -v npm >/dev/null 2>&1; then
  echo "note: npm is missing; the real pipeline tests (tests/pipeline) will be skipped (install npm to run them)" >&2
else
  echo "installing $want into $node" >&2
  mkdir -p "$node"
  [ -f "$node/package.json" ] || printf '{"private": true, "description": "tools for tests/pipeline"}\n' >"$node/package.json"
  # shellcheck disable=SC2086
  npm install --prefix "$node" --no-audit --no-fund --loglevel=error --save-exact $want >/dev/null
  "$node/node_modules/.bin/node" --version >/dev/null
  PATH="$PWD/$node/node_modules/.bin:$PATH" "$node/node_modules/.bin/gitlab-ci-local" --version >/dev/null
  printf '%s\n' "$want" >"$node/installed"
fi

wheels=tests/pipeline/.wheels
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ -f "$wheels/installed" ] && [ "$(cat "$wheels/installed")" = "$want" ]; then
  exit 0
fi
if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
  echo "note: no pip for $PYTHON; the real pipeline tests (tests/pipeline) will be skipped" >&2
  exit 0
fi
echo "collecting the wheels metarepo[contracts] needs into $wheels" >&2
rm -rf "$wheels" && mkdir -p "$wheels"
if ! "$PYTHON" -m pip wheel --quiet --disable-pip-version-check -w "$wheels" ".[contracts]" "setuptools>=77" \
     >"$wheels/pip.log" 2>&1; then
  tail -5 "$wheels/pip.log" >&2
  echo "note: could not collect the wheels (see $wheels/pip.log); the real pipeline tests will be skipped" >&2
  exit 0
fi
rm -f "$wheels"/metarepo-*.whl  # the tests build their own, from the work tree as it is then
printf '%s\n' "$want" >"$wheels/installed"
