#!/usr/bin/env bash
# Runs schemathesis against a live `flint up` with the API's own OpenAPI
# document (GET /v1/openapi.json): generated calls to every operation, each
# checked for server errors (5xx) and for answers the document does not
# describe (status, content type, JSON schema), plus missing auth checks
# and unsupported methods. Exits non-zero on any failure.
#
# Installs schemathesis (pinned, from PyPI) into tests/openapi/.venv on
# first use. Starts `flint up` on 127.0.0.1 with port 0 and a temporary
# data folder, deploys examples/hello-http as `default/hello` (the
# document's example names) so calls reach a real function, then runs two
# passes: the user operations with an admin token made for the run, and
# the invokers' operations (tag `cluster`) with the cluster credential.
# Everything stays on the loopback: hooks.py rewrites generated Kafka
# brokers and invoker URLs. `flint up` is stopped by its pid on exit.
#
# Environment (all optional):
#   FLINT_BIN                  the flint binary (default: target/debug/flint, built if missing)
#   SCHEMATHESIS_MAX_EXAMPLES  generated cases per operation and phase (default 100)
#   SCHEMATHESIS_SEED          hypothesis seed (default fixed, so CI is reproducible)
#   SCHEMATHESIS_WORKERS       concurrent workers (default 2)
#   SCHEMATHESIS_ARGS          more arguments for both passes (e.g. `--report har --report-dir DIR`)
#   SCHEMATHESIS_DOCUMENT      a local copy of the document to use instead of the served one
#                              (to try an edit without rebuilding flint)
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
here="$root/tests/openapi"

VERSION=4.32.5
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-100}"
SEED="${SCHEMATHESIS_SEED:-20251101}"
WORKERS="${SCHEMATHESIS_WORKERS:-2}"

log() { echo "schemathesis.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# --- schemathesis, pinned: its CLI changed a lot between 3.x and 4.x -------
venv="$here/.venv"
st="$venv/bin/schemathesis"
if ! "$st" --version 2>/dev/null | grep -qx "schemathesis, version $VERSION"; then
  log "installing schemathesis $VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$VERSION"
fi
py="$venv/bin/python"

# --- what to run -----------------------------------------------------------
flint="${FLINT_BIN:-$root/target/debug/flint}"
if [ -z "${FLINT_BIN:-}" ]; then
  cargo build --quiet -p flint --bin flint
fi
[ -x "$flint" ] || die "$flint is not an executable"
wasm="$root/examples/target/wasm32-wasip2/release/hello_http.wasm"
if [ ! -f "$wasm" ]; then
  log "building the examples (hello-http)"
  (cd "$root/examples" && cargo build --quiet --release --target wasm32-wasip2 --target-dir target)
fi

# --- flint up --------------------------------------------------------------
tmp="$(mktemp -d "${TMPDIR:-/tmp}/flint-schemathesis.XXXXXX")"
pid=""
cleanup() {
  local status=$?
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] && [ -f "$tmp/stderr.log" ]; then
    log "flint up's last log lines:"
    tail -n 40 "$tmp/stderr.log" >&2 || true
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT

: >"$tmp/stdout.log"
# The CLI config `flint up` writes the admin token to stays in the temp folder.
FLINT_CONFIG="$tmp/cli-config.toml" RUST_LOG="warn,flint_controller=info,flint_invoker=info" \
  "$flint" up --data "$tmp/data" \
    --api-listen 127.0.0.1:0 --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
    </dev/null >"$tmp/stdout.log" 2>"$tmp/stderr.log" &
pid=$!

api=""
for _ in $(seq 300); do
  api="$(sed -n 's/^api listening on \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$tmp/stdout.log")"
  [ -n "$api" ] && break
  kill -0 "$pid" 2>/dev/null || die "flint up exited before listening"
  sleep 0.1
done
[ -n "$api" ] || die "flint up did not print its API address within 30 s"
for _ in $(seq 300); do
  [ -s "$tmp/data/admin.token" ] && [ -s "$tmp/data/cluster.token" ] && break
  sleep 0.1
done
bootstrap="$(tr -d '\n' <"$tmp/data/admin.token")"
cluster="$(tr -d '\n' <"$tmp/data/cluster.token")"
[ -n "$bootstrap" ] && [ -n "$cluster" ] || die "no token files in $tmp/data"
log "flint up (pid $pid) at $api"

# A token of the run's own, so a generated `DELETE /v1/tokens/admin` cannot
# revoke the one the run uses; and the function the document's examples name.
made="$("$py" - "$api" "$bootstrap" "$wasm" <<'PY'
import json, secrets, sys, urllib.request
api, token, wasm = sys.argv[1:]
def call(method, path, body=None, content_type="application/json"):
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(api + path, data=data, method=method)
    request.add_header("Authorization", "Bearer " + token)
    if data is not None:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")
made = call("POST", "/v1/tokens", {"name": "schemathesis-" + secrets.token_hex(8), "role": "admin", "namespaces": "*"})
print(made["info"]["name"])
call("PUT", "/v1/namespaces/default/functions/hello", {})
call("POST", "/v1/namespaces/default/functions/hello/versions", open(wasm, "rb").read(), "application/wasm")
call("PUT", "/v1/namespaces/default/triggers/hello-http", {"function": "hello", "spec": {"http": {"route": "/hello"}}})
print(made["token"])
PY
)"
admin_name="$(echo "$made" | sed -n 1p)"
admin="$(echo "$made" | sed -n 2p)"

# --- the two passes ----------------------------------------------------------
run_pass() {
  local name="$1" token="$2"; shift 2
  log "pass: $name"
  # From the temp folder: whatever schemathesis writes stays out of the repo.
  (cd "$tmp" && SCHEMATHESIS_HOOKS="$here/hooks.py" FLINT_KEEP_TOKEN="$admin_name" "$st" --config-file "$here/schemathesis.toml" \
    run "${SCHEMATHESIS_DOCUMENT:-$api/v1/openapi.json}" --url "$api/" \
    --header "Authorization: Bearer $token" \
    --phases examples,coverage,fuzzing \
    --max-examples "$MAX_EXAMPLES" --seed "$SEED" --workers "$WORKERS" \
    --request-timeout 30 --no-color ${SCHEMATHESIS_ARGS:-} "$@")
}
started=$(date +%s)
status=0
run_pass "user operations (admin token)" "$admin" --exclude-tag cluster || status=$?
run_pass "invoker operations (cluster credential)" "$cluster" --include-tag cluster || status=$?
kill -0 "$pid" 2>/dev/null || { log "flint up died during the run"; status=1; }
if grep -q "panicked" "$tmp/stderr.log"; then
  log "flint up panicked:"; grep -A5 "panicked" "$tmp/stderr.log" >&2; status=1
fi
log "done in $(( $(date +%s) - started ))s (seed $SEED, $MAX_EXAMPLES examples per operation)"
exit "$status"
