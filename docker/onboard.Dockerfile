# The satellite: the onboard daemon and the camera feed. No torch (edge footprint).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY satedge satedge
COPY onboard onboard
COPY ground/__init__.py ground/__init__.py
COPY sim sim
COPY training/__init__.py training/__init__.py
COPY models models
COPY docker/satellite-entrypoint.sh /usr/local/bin/satellite-entrypoint
RUN pip install -c constraints.txt ".[onboard,sim]" \
 && python -c "import onboard.cli, sim.camera; import sys; assert 'torch' not in sys.modules"
# The package is installed into site-packages; the model zoo stays here.
ENV SATEDGE_MODEL_DIR=/app/models/satedge-unet
WORKDIR /data
ENTRYPOINT ["satellite-entrypoint"]
