#!/usr/bin/env bash
# Fails with a clear message when a prerequisite of `make dev` / `make test` is missing or too old.
set -u
fail=0
need() { echo "missing prerequisite: $1" >&2; fail=1; }

py=${PYTHON:-python3}
if ! command -v "$py" >/dev/null 2>&1; then
  need "Python 3.11+ ($py not found; set PYTHON=/path/to/python3.11)"
elif ! "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  need "Python 3.11+ (found $("$py" --version 2>&1); set PYTHON=/path/to/python3.11)"
fi

# Any Node from 20 on, only to run npm: `make install` puts the Node LTS the tools run on into node_modules
# (package.json), and the Makefile puts node_modules/.bin first on PATH.
if ! command -v node >/dev/null 2>&1; then
  need "Node.js 20+ with npm (node not found)"
elif [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  need "Node.js 20+ with npm (found $(node --version))"
fi
command -v npm >/dev/null 2>&1 || need "npm (comes with Node.js)"

# Java runs DynamoDB Local: only the local stack and what drives it (`--local`) need it, not a deployment.
if [ "${1:-}" = "--local" ]; then
  if ! command -v java >/dev/null 2>&1; then
    need "Java 17+ (java not found; DynamoDB Local runs on it)"
  else
    major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
    if [ -z "$major" ] || [ "$major" -lt 17 ]; then
      need "Java 17+ (found: $(java -version 2>&1 | head -1))"
    fi
  fi
fi
exit $fail
