# at-stream worker image. Dependencies come from the lock file; the project itself is
# installed from its wheel without resolving dependencies again.
#
# Build arguments:
#   BASE          any Debian-like image with Python 3.11+ and its venv module: the public
#                 python:3.11-slim by default; at-stream's own test command uses a Debian
#                 base it makes with debootstrap (images/build.sh).
#   PIP_EXTRA_CA  PEM certificates pip should trust besides the base's (a TLS-inspecting
#                 proxy); used in the build stages only, never in the image.
ARG BASE=python:3.11-slim

# The pinned dependencies in a venv of its own: the same on the public image and on
# Debian's Python (which refuses installs into the system interpreter). Only a change of
# the lock rebuilds this stage.
FROM ${BASE} AS deps
ARG PIP_EXTRA_CA=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_CERT=/opt/pip-ca.pem \
    PATH=/opt/at-stream/bin:$PATH
RUN cat /etc/ssl/certs/ca-certificates.crt >/opt/pip-ca.pem \
    && printf '%s\n' "$PIP_EXTRA_CA" >>/opt/pip-ca.pem \
    && python3 -m venv /opt/at-stream
COPY requirements.lock /tmp/
RUN pip install --no-cache-dir -r /tmp/requirements.lock

# The project's wheel, built with a pinned backend outside the image's venv.
FROM deps AS wheel
RUN python3 -m venv /opt/build && /opt/build/bin/pip install --no-cache-dir setuptools==80.9.0
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app/ ./app/
COPY at_stream/ ./at_stream/
RUN /opt/build/bin/pip wheel --no-cache-dir --no-deps --no-build-isolation -w /dist .

FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AT_STREAM_DATA_DIR=/data/worker \
    PATH=/opt/at-stream/bin:$PATH
WORKDIR /srv
# Non-root user. /data is created and owned here so that a fresh named volume mounted
# on it inherits the ownership.
RUN groupadd --system --gid 10001 atstream \
    && useradd --system --uid 10001 --gid atstream --home-dir /srv --no-create-home atstream \
    && mkdir -p /data/worker \
    && chown -R atstream:atstream /data
COPY --from=deps /opt/at-stream /opt/at-stream
COPY --from=wheel /dist/ /tmp/dist/
RUN pip install --no-cache-dir --no-deps --no-index /tmp/dist/*.whl && rm -rf /tmp/dist
USER atstream

EXPOSE 8001

CMD ["at-stream", "worker", "-l", "info"]
