#!/usr/bin/env bash
# Build at-stream's three images against the Docker engine of DOCKER_HOST (or the default):
#   at-stream/base:bookworm  Debian bookworm from debootstrap (no registry needed)
#   at-stream/kafka:<ver>    single-node Kafka (KRaft): Debian's JRE + the launcher's jars
#   at-stream:<ver>          the worker, from the repo's Dockerfile with BASE=the local base
# Cached between runs: the debootstrap rootfs tarball under the cache dir
# (AT_STREAM_CACHE_DIR, default ~/.cache/at-stream) and Docker's layer cache.
# Every build uses the host network; nothing here needs a bridge.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
CACHE="${AT_STREAM_CACHE_DIR:-$HOME/.cache/at-stream}"
SUITE=bookworm
# What the base needs: Python for the worker, venv for its isolated install, passwd for
# its non-root user, CA certificates for pip and apt over TLS.
BASE_PACKAGES="python3,python3-venv,ca-certificates,passwd"
BASE_IMAGE="${AT_STREAM_BASE_IMAGE:-at-stream/base:$SUITE}"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\([^<]*\)</kafka.version>.*:\1:p' "$ROOT/app/broker/pom.xml")"
APP_VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/pyproject.toml")"
KAFKA_IMAGE="${AT_STREAM_KAFKA_IMAGE:-at-stream/kafka:$KAFKA_VERSION}"
APP_IMAGE="${AT_STREAM_IMAGE:-at-stream:$APP_VERSION}"
export DOCKER_BUILDKIT=0  # the classic builder: present in every engine, no buildx plugin

say() { printf 'images: %s\n' "$*" >&2; }
# docker build, its log kept in the cache and shown only when it fails.
build() {
    local log="$CACHE/build/last-build.log"
    mkdir -p "$CACHE/build"
    docker build --network host "$@" >"$log" 2>&1 || { tail -30 "$log" >&2; return 1; }
}
secs() { echo $(($(date +%s) - $1)); }

# The Debian mirror the host itself uses (first deb URI of its apt sources).
mirror() {
    local uri
    uri="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -E '^(URIs:|deb )' \
        | grep -v security | sed -E 's/^URIs:[[:space:]]*//; s/^deb (\[[^]]*\] )?//' \
        | awk '{print $1; exit}')"
    [ -n "$uri" ] || { say "no Debian mirror in /etc/apt sources"; return 1; }
    echo "$uri"
}

base() {
    local key tarball t0
    key="$(printf '%s %s' "$SUITE" "$BASE_PACKAGES" | sha256sum | cut -c1-12)"
    tarball="$CACHE/rootfs/$SUITE-minbase-$key.tar"
    if docker image inspect "$BASE_IMAGE" --format '{{index .Config.Labels "at-stream.rootfs"}}' \
        2>/dev/null | grep -qx "$key"; then
        say "$BASE_IMAGE up to date (rootfs $key)"
        return
    fi
    if [ ! -s "$tarball" ]; then
        command -v debootstrap >/dev/null || { say "debootstrap is not installed"; return 1; }
        t0=$(date +%s)
        local work="$CACHE/rootfs/work.$$"
        rm -rf "$work" && mkdir -p "$work"
        trap 'rm -rf "$work"' RETURN
        say "debootstrap --variant=minbase $SUITE (+ $BASE_PACKAGES)"
        debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$work/rootfs" \
            "$(mirror)" >"$work/debootstrap.log" 2>&1 \
            || { tail -20 "$work/debootstrap.log" >&2; return 1; }
        rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
        tar -C "$work/rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
        say "rootfs $key built in $(secs "$t0")s: $tarball"
    fi
    t0=$(date +%s)
    docker import --change "LABEL at-stream.rootfs=$key" --change 'CMD ["/bin/bash"]' \
        --change 'ENV LANG=C.UTF-8' "$tarball" "$BASE_IMAGE" >/dev/null
    say "$BASE_IMAGE imported in $(secs "$t0")s"
}

kafka() {
    local libs ctx t0
    libs="$(cd "$ROOT" && "$PY" -c 'from app.broker.launcher import ensure_jars; print(ensure_jars())')"
    ctx="$CACHE/build/kafka-context"
    rm -rf "$ctx" && mkdir -p "$ctx"
    cp -al "$libs" "$ctx/libs" 2>/dev/null || cp -a "$libs" "$ctx/libs"
    rm -f "$ctx/libs/.complete"
    cp "$ROOT/images/kafka/Dockerfile" "$ROOT/images/kafka/start-kafka" "$ROOT/app/broker/log4j2.properties" "$ctx/"
    t0=$(date +%s)
    build --build-arg BASE="$BASE_IMAGE" --build-arg KAFKA_VERSION="$KAFKA_VERSION" \
        -t "$KAFKA_IMAGE" "$ctx"
    rm -rf "$ctx"
    say "$KAFKA_IMAGE built in $(secs "$t0")s"
}

app() {
    local t0
    t0=$(date +%s)
    # The CAs this host adds to Debian's (a TLS-inspecting proxy to PyPI, if any), so that
    # pip in the build reaches PyPI as the host's pip does.
    local extra=""
    if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
        extra="$(cat /usr/local/share/ca-certificates/*.crt)"
    fi
    build --build-arg BASE="$BASE_IMAGE" --build-arg PIP_EXTRA_CA="$extra" \
        -t "$APP_IMAGE" -t "${APP_IMAGE%:*}:latest" "$ROOT"
    say "$APP_IMAGE built in $(secs "$t0")s"
}

mkdir -p "$CACHE/rootfs"
start=$(date +%s)
base
kafka
app
say "all three built in $(secs "$start")s"
