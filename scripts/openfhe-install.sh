# OpenFHE for scripts/openfhe_bootstrap.py: the PyPI wheel `openfhe`, installed
# into target/openfhe-venv on first use. Sourced by scripts that run under
# `set -euo pipefail` from the repository root (scripts/ckks-bootstrap.sh).
#
# The wheel is tagged py3-none-any, yet it ships a CPython 3.10 extension
# (openfhe.cpython-310-x86_64-linux-gnu.so, built on Ubuntu 22.04), so pip
# installs it under any Python but only 3.10 can import it: the venv must be
# made with python3.10. On this machine that is pyenv's 3.10.13, which is not
# on PATH: the pyenv shim `python3.10` exists but fails unless 3.10 is a
# selected pyenv version, so every candidate is tried by running it.
# Pinned: 1.6.1.0.22.4 is the newest wheel on the index (the last two fields
# are the Ubuntu release it was built on); it imports fine on Debian 12.
OPENFHE_VENV=target/openfhe-venv
OPENFHE_PY="$OPENFHE_VENV/bin/python"
OPENFHE_VERSION=1.6.1.0.22.4

is_py310() { [[ -x "$1" ]] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; }

# Create the venv only when missing (or not made with 3.10).
if ! is_py310 "$OPENFHE_PY"; then
    py310=""
    for cand in "$(command -v python3.10 2>/dev/null || true)" \
                "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python3.10 \
                /usr/bin/python3.10 /usr/local/bin/python3.10; do
        if is_py310 "$cand"; then py310=$cand; break; fi
    done
    if [[ -z "$py310" ]]; then
        echo "openfhe needs CPython 3.10 (e.g. 'pyenv install 3.10'); none found" >&2
        exit 1
    fi
    echo "creating $OPENFHE_VENV with $py310" >&2
    "$py310" -m venv --clear "$OPENFHE_VENV"
fi
# Install only when the pinned version is missing.
if ! "$OPENFHE_PY" -c "import importlib.metadata as m, sys; sys.exit(m.version('openfhe') != '$OPENFHE_VERSION')" 2>/dev/null; then
    echo "installing openfhe==$OPENFHE_VERSION into $OPENFHE_VENV" >&2
    "$OPENFHE_PY" -m pip install -q "openfhe==$OPENFHE_VERSION"
fi
