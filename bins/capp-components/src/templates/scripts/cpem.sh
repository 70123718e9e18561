#!/bin/bash
# Installs cloud-provider-equinix-metal (CPEM) on the first control-plane node, after
# `kubeadm init`. Written into cluster templates by capp-components.
#
# Usage: cpem.sh VERSION
#
# CPEM's credentials (the metal-cloud-config Secret in kube-system) are not here: a
# ClusterResourceSet of the cluster template creates that Secret from the management
# cluster, so the Equinix Metal API token never appears in userdata.
set -euo pipefail

fail() {
  echo "capp cpem: $*" >&2
  exit 1
}

[ "$#" -eq 1 ] || fail "usage: $0 VERSION"
version=$1
[[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "CPEM version '$version' is not vMAJOR.MINOR.PATCH"
kubeadm_dir=${CAPP_KUBEADM_DIR:-/run/kubeadm}
# Joining control-plane nodes find CPEM installed already.
[ -f "$kubeadm_dir/kubeadm.yaml" ] || exit 0

manifest=https://github.com/equinix/cloud-provider-equinix-metal/releases/download/$version/deployment.yaml
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  if kubectl --kubeconfig /etc/kubernetes/admin.conf apply -f "$manifest"; then
    exit 0
  fi
  echo "capp cpem: attempt $attempt to apply $manifest failed; retrying" >&2
  sleep 6
done
fail "could not apply $manifest"
