#!/usr/bin/env bash
# Build .venv-ipex: Intel Extension for PyTorch 2.8 (its last release; it imports only with torch 2.8.x)
# next to satedge's training dependencies, apart from the main .venv (torch 2.13).
#
#   make ipex-env                      # or: training/ipex/setup.sh [VENV]
#   .venv-ipex/bin/satedge train --backend ipex ...
#
# TORCH_INDEX picks where torch 2.8 comes from: the configured package index by default ("pypi"; its
# torch 2.8 brings CUDA libraries, about 7 GB), or e.g. TORCH_INDEX=https://download.pytorch.org/whl/cpu
# for the CPU-only wheel (about 1 GB) where that host is reachable.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV="${1:-.venv-ipex}"
PYTHON="${PYTHON:-python3}"
TORCH_INDEX="${TORCH_INDEX:-pypi}"

test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --quiet --progress-bar off)
"${PIP[@]}" --upgrade pip
if [ "$TORCH_INDEX" = pypi ]; then
    "${PIP[@]}" "torch==2.8.*"
else
    "${PIP[@]}" "torch==2.8.*" --index-url "$TORCH_INDEX"
fi
"${PIP[@]}" "intel-extension-for-pytorch==2.8.0"
# satedge itself without its pinned torch; then what training, its tests and the onboard tiling import.
"${PIP[@]}" --no-deps -e .
"${PIP[@]}" "numpy>=2.0,<2.5" "pydantic>=2.7" pyzmq msgpack opencv-python-headless tqdm matplotlib psutil \
    pytest pytest-timeout
"$VENV/bin/python" -c "import torch, intel_extension_for_pytorch as ipex; print('torch', torch.__version__, 'ipex', ipex.__version__)"
touch "$VENV/.installed"
