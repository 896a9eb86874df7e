# The satellite: the onboard daemon, its camera feed and the default model. No torch (edge footprint).
ARG BASE=python:3.11-slim
FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
# Dependencies first (their layer survives code changes), then the code without them.
COPY pyproject.toml README.md constraints.txt ./
COPY docker/trim-site-packages.sh /usr/local/bin/trim-site-packages
RUN for p in satedge onboard ground sim; do mkdir -p $p && touch $p/__init__.py; done \
 && pip install -c constraints.txt ".[onboard,sim]" && pip uninstall -y satedge && rm -rf build satedge.egg-info && trim-site-packages
COPY satedge satedge
COPY onboard onboard
COPY ground ground
COPY sim sim
COPY models/satedge-unet /app/models/satedge-unet
ENV SATEDGE_MODEL_DIR=/app/models/satedge-unet
# Installed, torch-free, and the trimmed OpenVINO still compiles and runs every precision.
RUN pip install --no-deps . && python -c "\
import sys, numpy as np, openvino as ov, onboard.daemon, sim.camera, sim.mission_cli; \
from onboard.manifest import Manifest; m = Manifest.load('/app/models/satedge-unet'); core = ov.Core(); \
[core.compile_model(str(m.ir(p)), 'CPU')(np.zeros(m.input.shape, np.uint8)) for p in m.precisions]; \
assert 'torch' not in sys.modules"
COPY docker/satellite-entrypoint.sh /usr/local/bin/satellite-entrypoint
WORKDIR /data
ENTRYPOINT ["satellite-entrypoint"]
