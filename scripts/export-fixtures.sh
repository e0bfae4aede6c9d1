#!/usr/bin/env bash
# Regenerates the ONNX fixtures of crates/nn/tests/fixtures/ (scripts/export-fixtures.py):
# models exported by PyTorch and skl2onnx, and onnxruntime's outputs on a few inputs. The
# tests read the committed files and never need Python; rerun this only to change them.
# Arguments name fixtures to remake (torch_layers, wdbc, digits_cnn, mnist_mlp, ...); none: all.
#
# The exporters are installed from PyPI into target/fixtures-venv on first use (torch is
# large: several GB with its CUDA libraries, unused here).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=target/fixtures-venv
PY="$VENV/bin/python"
PACKAGES=(torch==2.15.0 onnx==1.23.2 onnxruntime==1.32.0 scikit-learn==1.9.1 skl2onnx==1.20.0 onnxscript)

if [[ ! -x "$PY" ]]; then
    echo "creating $VENV" >&2
    python3 -m venv "$VENV"
fi
if ! "$PY" -c "import torch, onnx, onnxruntime, sklearn, skl2onnx" 2>/dev/null; then
    echo "installing ${PACKAGES[*]} into $VENV" >&2
    "$PY" -m pip install -q "${PACKAGES[@]}"
fi
"$PY" scripts/export-fixtures.py "$@"
