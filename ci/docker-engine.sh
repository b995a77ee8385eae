# Sourced by ci/test-paths: a Docker engine for the container path of `make test`.
#
# engine_start: use an engine that already answers (DOCKER_HOST or the default socket),
#   else, as root, start Debian's dockerd (installing docker.io and debootstrap with apt if
#   missing) with its own socket, bridge off and no iptables changes: every container runs
#   on the host network, every address is 127.0.0.1. Sets ENGINE_REASON when it cannot.
# engine_stop: stop what engine_start started, by its pid, containers first; checks that
#   no docker0 interface is left.
# AT_STREAM_DOCKER=0 skips the container path; =1 makes a Docker that cannot start fail.

ENGINE_DIR=/run/at-stream-test-docker
ENGINE_STARTED=""
ENGINE_REASON=""

_engine_answers() {
    command -v docker >/dev/null 2>&1 && timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

_engine_install() {
    local missing=()
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v docker >/dev/null 2>&1 || missing+=(docker.io)
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null 2>&1 || { ENGINE_REASON="no dockerd and no apt-get to install it"; return 1; }
    echo "containers: installing ${missing[*]} with apt-get (services not started)" >&2
    # No service may start during the install: the package's own dockerd would make a bridge.
    local policy=/usr/sbin/policy-rc.d own_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && own_policy=1
    fi
    local log="$CACHE_DIR/apt-docker.log" rc=0
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${missing[@]}"; } >"$log" 2>&1 || rc=$?
    [ -n "$own_policy" ] && rm -f "$policy"
    if [ $rc -ne 0 ]; then
        ENGINE_REASON="apt-get could not install ${missing[*]} (see $log)"
        return 1
    fi
}

engine_start() {
    if [ "${AT_STREAM_DOCKER:-}" = 0 ]; then
        ENGINE_REASON="AT_STREAM_DOCKER=0"
        return 1
    fi
    if _engine_answers; then
        echo "containers: using the Docker engine that answers at ${DOCKER_HOST:-the default socket}" >&2
        return 0
    fi
    if [ "$(id -u)" != 0 ]; then
        ENGINE_REASON="no Docker engine answers and not root, so none can be started"
        return 1
    fi
    _engine_install || return 1
    mkdir -p "$ENGINE_DIR"
    local sock="unix://$ENGINE_DIR/docker.sock" log="$CACHE_DIR/dockerd.log"
    if DOCKER_HOST="$sock" _engine_answers; then  # left by a run that was killed
        export DOCKER_HOST="$sock"
        ENGINE_STARTED="$(cat "$ENGINE_DIR/dockerd.pid" 2>/dev/null || true)"
        echo "containers: reusing the dockerd left at $sock" >&2
        return 0
    fi
    dockerd --host "$sock" --pidfile "$ENGINE_DIR/dockerd.pid" --exec-root "$ENGINE_DIR/exec" \
        --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
        --userland-proxy=false >"$log" 2>&1 &
    ENGINE_STARTED=$!
    export DOCKER_HOST="$sock"
    local i
    for i in $(seq 1 120); do
        _engine_answers && { echo "containers: dockerd started (pid $ENGINE_STARTED, ${i}x0.25s)" >&2; return 0; }
        kill -0 "$ENGINE_STARTED" 2>/dev/null || break
        sleep 0.25
    done
    ENGINE_REASON="dockerd did not start: $(grep -iE 'level=(error|fatal)|failed' "$log" | tail -1 | cut -c1-200)"
    engine_stop
    return 1
}

engine_stop() {
    [ -n "$ENGINE_STARTED" ] || return 0
    local pid="$ENGINE_STARTED" ids
    ENGINE_STARTED=""
    ids="$(timeout 20 docker ps -aq 2>/dev/null || true)"
    # shellcheck disable=SC2086  # one id a word
    [ -n "$ids" ] && timeout 60 docker rm -f $ids >/dev/null 2>&1
    if kill -TERM "$pid" 2>/dev/null; then
        local i
        for i in $(seq 1 120); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.25
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null || true
    fi
    # dockerd bind-mounts the host's network namespace under its exec root: undo it.
    local m
    for m in $(awk -v d="$ENGINE_DIR/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
    rm -rf "$ENGINE_DIR" 2>/dev/null || true
    if ip link show docker0 >/dev/null 2>&1; then
        echo "containers: WARNING: a docker0 interface exists after dockerd stopped" >&2
    fi
    echo "containers: dockerd (pid $pid) stopped" >&2
}
