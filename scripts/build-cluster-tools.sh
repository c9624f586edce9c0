#!/usr/bin/env bash
# Builds the embedded test cluster's binaries (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok, kwokctl, helm 3, helm 4) from pinned module versions, and caches
# them outside the work tree keyed by those versions. A warm run only checks that the files exist and
# that every binary reports the pinned version (about a second). Concurrent runs wait for each other.
# Prints the cache directory as its last line.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-0.8.0}"
HELM3_VERSION="${HELM3_VERSION:-3.22.0}"
HELM4_VERSION="${HELM4_VERSION:-4.3.1}"

cache_root="${MDCORE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mdcore-upgrade-action/cluster-tools}"
key="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_helm-${HELM3_VERSION}-${HELM4_VERSION}"
out="${cache_root}/${key}"
mkdir -p "$out/bin" "$out/helm3" "$out/helm4"

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-trimpath"
started=$(date +%s)
say() { printf '[build-cluster-tools +%ss] %s\n' "$(( $(date +%s) - started ))" "$*" >&2; }
have() { [ -x "$1" ] && [ -s "$1" ]; }

# One build per key at a time (test projects may call this script concurrently); later callers wait.
exec 9>"${cache_root}/.${key}.lock"
if ! flock -n 9; then
  say "another build of ${key} is running; waiting for it (at most 90 min)"
  flock -w 5400 9 || { say "gave up waiting for the build lock"; exit 1; }
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --- kube-apiserver, kube-controller-manager, kube-scheduler, kubectl ---------------------------
if ! { have "$out/bin/kube-apiserver" && have "$out/bin/kube-controller-manager" \
  && have "$out/bin/kube-scheduler" && have "$out/bin/kubectl"; }; then
  say "building Kubernetes v${K8S_VERSION} control plane and kubectl (cold: about 20 min on 2 cores)"
  staging=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
    cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api
    cri-client cri-streaming csi-translation-lib dynamic-resource-allocation endpointslice externaljwt
    kms kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
    mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller streaming)
  minor="${K8S_VERSION#*.}"; minor="${minor%%.*}"
  mkdir -p "$work/k8s" && cd "$work/k8s"
  {
    echo "module mdcore.local/k8sbuild"
    echo
    echo "go 1.26"
    echo
    echo "require k8s.io/kubernetes v${K8S_VERSION}"
    echo
    for m in "${staging[@]}"; do echo "replace k8s.io/$m => k8s.io/$m v0.${minor}.${K8S_VERSION##*.}"; done
  } > go.mod
  cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  say "resolving modules"
  go mod tidy -e >/dev/null 2>&1 || true
  go mod download k8s.io/kubernetes
  ld=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=v${K8S_VERSION} -X $p.gitMajor=1 -X $p.gitMinor=${minor} -X $p.gitTreeState=clean"
    ld+=" -X $p.buildDate=2000-01-01T00:00:00Z"
  done
  for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    if have "$out/bin/$c"; then continue; fi
    say "go build $c"
    go build -tags tools -ldflags "-s -w $ld" -o "$out/bin/$c.tmp" "k8s.io/kubernetes/cmd/$c"
    mv "$out/bin/$c.tmp" "$out/bin/$c"
  done
fi

# --- etcd ----------------------------------------------------------------------------------------
if ! have "$out/bin/etcd"; then
  say "building etcd v${ETCD_VERSION}"
  mkdir -p "$work/etcd" && cd "$work/etcd"
  go mod init mdcore.local/etcdbuild >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@v${ETCD_VERSION}" >/dev/null 2>&1
  go build -ldflags "-s -w" -o "$out/bin/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$out/bin/etcd.tmp" "$out/bin/etcd"
fi

# --- kwok, kwokctl -------------------------------------------------------------------------------
for c in kwok kwokctl; do
  if ! have "$out/bin/$c"; then
    say "building $c v${KWOK_VERSION}"
    GOBIN="$work/gobin" go install -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=v${KWOK_VERSION}" \
      "sigs.k8s.io/kwok/cmd/$c@v${KWOK_VERSION}"
    mv "$work/gobin/$c" "$out/bin/$c"
  fi
done

# --- helm 3 and helm 4 ---------------------------------------------------------------------------
build_helm() { # major version dir
  local major="$1" ver="$2" dir="$3"
  if have "$dir/helm"; then return; fi
  say "building helm v${ver}"
  GOBIN="$work/helm$major" go install \
    -ldflags "-s -w -X helm.sh/helm/v${major}/internal/version.version=v${ver} -X helm.sh/helm/v${major}/internal/version.gitTreeState=clean" \
    "helm.sh/helm/v${major}/cmd/helm@v${ver}"
  mv "$work/helm$major/helm" "$dir/helm"
}
build_helm 3 "$HELM3_VERSION" "$out/helm3"
build_helm 4 "$HELM4_VERSION" "$out/helm4"

# --- verify what the binaries report (a missing -X stamp makes the API server say v0.0.0) -----------
check() { # what expected actual
  if [ "$2" != "$3" ]; then say "version check failed for $1: expected '$2', got '$3'"; exit 1; fi
}
check kube-apiserver "Kubernetes v${K8S_VERSION}" "$("$out/bin/kube-apiserver" --version)"
check kube-controller-manager "Kubernetes v${K8S_VERSION}" "$("$out/bin/kube-controller-manager" --version)"
check kube-scheduler "Kubernetes v${K8S_VERSION}" "$("$out/bin/kube-scheduler" --version)"
check kubectl "Client Version: v${K8S_VERSION}" "$("$out/bin/kubectl" version --client | head -n 1)"
check etcd "etcd Version: ${ETCD_VERSION}" "$("$out/bin/etcd" --version | head -n 1)"
check kwok "v${KWOK_VERSION}" "$("$out/bin/kwok" --version | awk '{print $3}')"
check kwokctl "v${KWOK_VERSION}" "$("$out/bin/kwokctl" --version | awk '{print $3}')"
check helm3 "v${HELM3_VERSION}" "$("$out/helm3/helm" version --template '{{.Version}}')"
check helm4 "v${HELM4_VERSION}" "$("$out/helm4/helm" version --template '{{.Version}}')"

say "ready in $out"
echo "$out"
