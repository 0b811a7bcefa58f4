#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu).
# It installs Python 3.11+ when the image has none, a virtualenv next to this script
# (venv/), and the grading kit (kit/) into it, then warms the kit's caches up.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

find_python() {  # a Python 3.11+ that can make virtualenvs (ensurepip included)
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c \
        'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

PYTHON="$(find_python || true)"
if [ -z "$PYTHON" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Ubuntu 22.04 has python3.11 in its archive; older images get it from deadsnakes.
  if ! apt-get install -y -qq python3.11 python3.11-venv >/dev/null; then
    apt-get install -y -qq software-properties-common >/dev/null
    add-apt-repository -y ppa:deadsnakes/ppa
    apt-get update -qq
    apt-get install -y -qq python3.11 python3.11-venv >/dev/null
  fi
  PYTHON="$(find_python)"
fi
echo "setup.sh: using $PYTHON ($("$PYTHON" --version))"

"$PYTHON" -m venv "$HERE/venv"
"$HERE/venv/bin/python" -m pip install -q --upgrade pip
# Editable: the kit finds its tests and data next to its code (kit/), as in a clone.
"$HERE/venv/bin/python" -m pip install -q -e "$HERE/kit"
cd "$HERE/kit"
# Warm up once here, not per submission: the migrated MLflow store template, bytecode.
"$HERE/venv/bin/python" -c "from grader.judge.store import template_path; template_path()"
"$HERE/venv/bin/python" -m compileall -q grader labkit tests >/dev/null || true
# Student code runs as an unprivileged uid of its own (no user account is needed for
# it): the kit, the virtualenv and these scripts are root's, readable where the call
# needs them (Python, site-packages, labkit/), writable by no one else; the hidden tests,
# the judge's code and the bundle's settings (the grading seed) not even readable.
chown -R root:root "$HERE"
chmod -R go-w "$HERE"
chmod -R go-rwx "$HERE/kit/tests" "$HERE/kit/grader" "$HERE/kata-gradescope.json"
echo "setup.sh: the MLflow kata autograder is installed in $HERE/venv"
