#!/usr/bin/env python3
"""Validate rendered Kubernetes manifests offline, the way chart-testing does.

Usage: validate-manifests.py --kube-version 1.35 [--kube-version 1.27 ...] FILE...

Every document of every FILE (output of `helm template`) is checked against
the built-in Kubernetes JSON schemas of the `kubernetes-validate` package,
strictly: unknown fields are errors, so a misplaced key in a template fails
here instead of being dropped by the API server.

Kinds defined by CustomResourceDefinitions (the Prometheus Operator's
ServiceMonitor) have no schema in that package. They are not skipped
silently: each is listed as skipped, and only its shape is checked (apiVersion,
metadata.name, non-empty spec). Any other kind without a schema is an error,
so a typo in `kind` or `apiVersion` cannot pass as "unknown".

Exits 1 if any document fails.
"""

import argparse
import sys

import yaml
from kubernetes_validate import utils

# kind -> apiVersion of the CRD kinds the chart renders and the package cannot check.
CRD_KINDS = {"ServiceMonitor": "monitoring.coreos.com/v1"}


def name_of(doc):
    return "%s/%s" % (doc.get("kind", "?"), (doc.get("metadata") or {}).get("name", "?"))


def check_crd(doc):
    """The shape every custom resource needs; returns a problem or None."""
    want = CRD_KINDS[doc["kind"]]
    if doc.get("apiVersion") != want:
        return "apiVersion is %r, expected %r" % (doc.get("apiVersion"), want)
    if not (doc.get("metadata") or {}).get("name"):
        return "metadata.name is missing"
    if not doc.get("spec"):
        return "spec is empty"
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kube-version", action="append", required=True)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()

    failures = checked = skipped = 0
    for path in args.files:
        with open(path, encoding="utf-8") as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        if not docs:
            print("ERROR %s: no manifests" % path)
            failures += 1
        for doc in docs:
            if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
                print("ERROR %s: a document without kind/apiVersion" % path)
                failures += 1
                continue
            if doc["kind"] in CRD_KINDS:
                problem = check_crd(doc)
                if problem:
                    print("ERROR %s %s: %s" % (path, name_of(doc), problem))
                    failures += 1
                else:
                    print("SKIP  %s %s: CRD kind, no schema offline (shape checked)" % (path, name_of(doc)))
                    skipped += 1
                continue
            for version in args.kube_version:
                try:
                    utils.validate(doc, version, strict=True)
                    checked += 1
                except utils.ValidationError as e:
                    where = ".".join(str(p) for p in e.path) or "(top)"
                    print("ERROR %s %s (Kubernetes %s): %s: %s" % (path, name_of(doc), version, where, e.message))
                    failures += 1
                except utils.SchemaNotFoundError as e:
                    print("ERROR %s %s: %s" % (path, name_of(doc), e.message))
                    failures += 1
                except utils.VersionNotSupportedError as e:
                    print("ERROR %s" % e.message)
                    return 2
    print("validated %d manifest/version pairs, skipped %d CRD objects, %d failures" % (checked, skipped, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
