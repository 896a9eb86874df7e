# Training, evaluation, export and quantization (PyTorch CPU build, OpenVINO, NNCF, INC).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY satedge satedge
COPY onboard onboard
COPY ground ground
COPY sim sim
COPY training training
COPY models models
# The CPU build of torch 2.13.0: from PyTorch's CPU index (the registry's default build carries CUDA).
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install --extra-index-url "$TORCH_INDEX" -c constraints.txt ".[training]"
WORKDIR /work
ENTRYPOINT ["satedge"]
CMD ["--help"]
