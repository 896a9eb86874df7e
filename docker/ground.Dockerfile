# The ground station, mission control and the key maker. No torch, no OpenVINO.
ARG BASE=python:3.11-slim
FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
# Dependencies first (their layer survives code changes), then the code without them.
COPY pyproject.toml README.md constraints.txt ./
RUN for p in satedge onboard ground sim; do mkdir -p $p && touch $p/__init__.py; done \
 && pip install -c constraints.txt ".[ground]" && pip uninstall -y satedge && rm -rf build satedge.egg-info
COPY satedge satedge
COPY onboard onboard
COPY ground ground
COPY sim sim
RUN pip install --no-deps . \
 && python -c "import ground.station, ground.report, sim.mission, sys; assert not {'torch', 'openvino', 'cv2'} & set(sys.modules)"
COPY docker/ground-entrypoint.sh /usr/local/bin/ground-entrypoint
WORKDIR /data
ENTRYPOINT ["satedge"]
CMD ["ground"]
