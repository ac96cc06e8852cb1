#!/usr/bin/env bash
# tests/kafka/down.sh — stop the broker that tests/kafka/up.sh started, by the pid it recorded.
# Same environment as tests/kafka/up.sh: KAFKA_PORT (default 19092), KAFKA_RUN_DIR.
# Idempotent: exits 0 when nothing is running. Sends SIGTERM, waits up to
# KAFKA_STOP_TIMEOUT seconds (default 10; tansu usually exits within ~1 s), then SIGKILL.
set -euo pipefail

PORT="${KAFKA_PORT:-19092}"
HOST=127.0.0.1
RUN_DIR="${KAFKA_RUN_DIR:-${TMPDIR:-/tmp}/flint-kafka-$PORT}"
PIDFILE="$RUN_DIR/broker.pid"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-10}"

log() { echo "kafka-down: $*" >&2; }
alive() {  # running and not a zombie (some container inits do not reap orphans)
  kill -0 "$1" 2>/dev/null || return 1
  if [ -r "/proc/$1/stat" ]; then ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat"; fi
}

if [ ! -f "$PIDFILE" ]; then
  log "no pid file at $PIDFILE; nothing to stop"
  exit 0
fi
pid="$(cat "$PIDFILE" 2>/dev/null || true)"
case "$pid" in ''|*[!0-9]*) log "bad pid file; removing it"; rm -f "$PIDFILE"; exit 0;; esac

if ! alive "$pid"; then
  log "pid $pid is not running; removing stale pid file"
  rm -f "$PIDFILE"
  exit 0
fi
# Guard against a recycled pid: only stop the tansu broker we started on this port.
if [ -r "/proc/$pid/cmdline" ]; then cmd="$(tr '\0' ' ' < "/proc/$pid/cmdline")"; else cmd="$(ps -o args= -p "$pid" 2>/dev/null || true)"; fi
if ! printf '%s' "$cmd" | grep -Eq "tansu broker .*--listener-url tcp://127\.0\.0\.1:$PORT( |\$)"; then
  log "pid $pid is not our tansu broker on $HOST:$PORT; removing stale pid file"
  rm -f "$PIDFILE"
  exit 0
fi

kill -TERM "$pid" 2>/dev/null || true
tries=$(( STOP_TIMEOUT * 10 ))
while alive "$pid" && [ "$tries" -gt 0 ]; do
  sleep 0.1
  tries=$(( tries - 1 ))
done
if alive "$pid"; then
  log "pid $pid still alive after ${STOP_TIMEOUT}s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.2
fi
rm -f "$PIDFILE"
log "stopped broker pid $pid ($HOST:$PORT)"
