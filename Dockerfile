# at-stream worker image. Dependencies come from the lock file; the project itself is
# installed without resolving dependencies again.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AT_STREAM_DATA_DIR=/data/worker

WORKDIR /srv

# Dependencies first, so code changes do not invalidate this layer.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock

COPY pyproject.toml ./
COPY app/ ./app/
RUN pip install --no-cache-dir --no-deps . \
    && rm -rf build ./*.egg-info

# Non-root user. /data is created and owned here so that a fresh named volume mounted
# on it inherits the ownership.
RUN groupadd --system --gid 10001 atstream \
    && useradd --system --uid 10001 --gid atstream --home-dir /srv --no-create-home atstream \
    && mkdir -p /data/worker \
    && chown -R atstream:atstream /data
USER atstream

EXPOSE 8001

CMD ["at-stream", "worker", "-l", "info"]
