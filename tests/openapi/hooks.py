"""Schemathesis hooks for tests/openapi/schemathesis.sh: keep generated
requests from sending Flint anywhere but the loopback.

Two inputs make Flint open connections of its own: a Kafka trigger's
`bootstrap_servers` (the invoker's consumer connects to them, and librdkafka
properties can point it elsewhere) and an invoker registration's URLs (the
controller forwards invoke calls there). Before every call, each host of a
Kafka broker list becomes 127.0.0.1 (ports kept, so the server's validation
is still exercised), properties other than the ones Flint refuses anyway are
dropped, and a registration's URLs that could be accepted point at a closed
loopback port. And the run's own admin token is never revoked: schemathesis reuses names
it saw in answers (`GET /v1/tokens` lists it), and the rest of the run would
get 401. Everything else is sent as generated.
"""

import os

import schemathesis
from hypothesis.internal import lambda_sources

# CPython 3.11's `ast.parse` may raise SystemError ("AST constructor
# recursion depth mismatch") when called deep in the stack, which is where
# hypothesis describes the lambdas of a strategy for its messages; the
# run then stops with a runtime error that is neither Flint's nor the
# document's. A description is cosmetic: fall back to hypothesis's own
# "unknown" one.
_describe = lambda_sources._lambda_description


def _lambda_description(f):
    try:
        return _describe(f)
    except SystemError:
        return "lambda: <unknown>"


lambda_sources._lambda_description = _lambda_description

# The name of the token the run calls with (set by schemathesis.sh).
KEEP_TOKEN = os.environ.get("FLINT_KEEP_TOKEN")

# Properties Flint sets itself: a trigger naming one is refused (400), so
# they are safe to send and keep that check fuzzed.
RESERVED = {
    "bootstrap.servers",
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "auto.offset.reset",
    "enable.partition.eof",
}

CLOSED = "http://127.0.0.1:9"


def loopback_brokers(servers):
    """`a:1,b:2` -> `127.0.0.1:1,127.0.0.1:2`; entries without a port stay
    as they are (the server refuses them)."""
    if not isinstance(servers, str):
        return servers
    out = []
    for server in servers.split(","):
        host, sep, port = server.rpartition(":")
        out.append(f"127.0.0.1:{port}" if sep and host.strip() else server)
    return ",".join(out)


def sanitize(body):
    if not isinstance(body, dict):
        return
    spec = body.get("spec")
    if isinstance(spec, dict) and isinstance(spec.get("kafka"), dict):
        kafka = spec["kafka"]
        if "bootstrap_servers" in kafka:
            kafka["bootstrap_servers"] = loopback_brokers(kafka["bootstrap_servers"])
        properties = kafka.get("properties")
        if isinstance(properties, dict):
            kafka["properties"] = {k: v for k, v in properties.items() if k in RESERVED}
    for key in ("http_url", "admin_url"):
        url = body.get(key)
        if isinstance(url, str) and url.lower().startswith(("http://", "https://")):
            body[key] = CLOSED


@schemathesis.hook
def before_call(context, case, kwargs):
    sanitize(case.body)
    revoking = case.method.upper() == "DELETE" and case.operation.path == "/v1/tokens/{name}"
    if revoking and KEEP_TOKEN and case.path_parameters.get("name") == KEEP_TOKEN:
        case.path_parameters["name"] = KEEP_TOKEN + "-not"
