# at-stream worker image. Dependencies come from the lock file; the project itself is
# installed without resolving dependencies again, into a venv that the final stage copies.
#
# Build arguments:
#   BASE          any Debian-like image with Python 3.11+ and its venv module: the public
#                 python:3.11-slim by default; at-stream's own test command uses a Debian
#                 base it makes with debootstrap (images/build.sh).
#   PIP_EXTRA_CA  PEM certificates pip should trust besides the base's (a TLS-inspecting
#                 proxy); used in the build stage only, never in the image.
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
ARG PIP_EXTRA_CA=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_CERT=/opt/pip-ca.pem \
    PATH=/opt/at-stream/bin:$PATH
WORKDIR /srv
# A venv of its own: the same on the public image and on Debian's Python (which refuses
# installs into the system interpreter).
RUN cat /etc/ssl/certs/ca-certificates.crt >/opt/pip-ca.pem \
    && printf '%s\n' "$PIP_EXTRA_CA" >>/opt/pip-ca.pem \
    && python3 -m venv /opt/at-stream
# Dependencies first, so code changes do not invalidate this layer.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY pyproject.toml README.md ./
COPY app/ ./app/
COPY at_stream/ ./at_stream/
RUN pip install --no-cache-dir --no-deps .

FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    AT_STREAM_DATA_DIR=/data/worker \
    PATH=/opt/at-stream/bin:$PATH
WORKDIR /srv
# Non-root user. /data is created and owned here so that a fresh named volume mounted
# on it inherits the ownership.
RUN groupadd --system --gid 10001 atstream \
    && useradd --system --uid 10001 --gid atstream --home-dir /srv --no-create-home atstream \
    && mkdir -p /data/worker \
    && chown -R atstream:atstream /data
COPY --from=build /opt/at-stream /opt/at-stream
USER atstream

EXPOSE 8001

CMD ["at-stream", "worker", "-l", "info"]
