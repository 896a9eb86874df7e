# The ground station: receiver, store, command uplink, reports.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY satedge satedge
COPY onboard onboard
COPY ground ground
COPY sim/__init__.py sim/__init__.py
COPY training/__init__.py training/__init__.py
RUN pip install -c constraints.txt ".[ground]"
WORKDIR /data
ENTRYPOINT ["satedge"]
CMD ["ground"]
