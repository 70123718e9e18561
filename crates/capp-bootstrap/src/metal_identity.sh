#!/bin/bash
# Written by capp-bootstrap. Resolves this Equinix Metal device's identity from the metadata
# service: the device UUID (kubelet provider ID equinixmetal://<uuid>) and the first private
# IPv4 address (kubelet node IP). It then
#   - records both in /run/capp/metal-identity.env,
#   - fills the placeholders in the kubeadm configuration written by capp-bootstrap, if any,
#   - with --kubelet-extra-args, adds --provider-id and --node-ip to KUBELET_EXTRA_ARGS in
#     /etc/default/kubelet (for kubeadm configurations capp-bootstrap did not write).
set -euo pipefail

# The paths can be overridden through the environment (used by capp-bootstrap's own tests).
metadata_url=${CAPP_METADATA_URL:-https://metadata.platformequinix.com/metadata}
kubeadm_config=${CAPP_KUBEADM_CONFIG:-/run/kubeadm/kubeadm.yaml}
run_dir=${CAPP_RUN_DIR:-/run/capp}
defaults=${CAPP_KUBELET_DEFAULTS:-/etc/default/kubelet}

metadata=$(curl -fsSL --retry 20 --retry-delay 3 --retry-connrefused "$metadata_url")
device_id=$(jq -r '.id // empty' <<<"$metadata")
node_ip=$(jq -r '[.network.addresses[]? | select(.public == false and .address_family == 4) | .address][0] // empty' <<<"$metadata")

# Refuse anything that is not a UUID or an IPv4 address: both end up in sed and YAML.
if ! [[ "$device_id" =~ ^[0-9a-fA-F-]+$ ]]; then
  echo "capp: metadata has no usable device id: '$device_id'" >&2
  exit 1
fi
if ! [[ "$node_ip" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  echo "capp: metadata has no private IPv4 address: '$node_ip'" >&2
  exit 1
fi

mkdir -p "$run_dir"
printf 'CAPP_DEVICE_ID=%s\nCAPP_NODE_IP=%s\n' "$device_id" "$node_ip" > "$run_dir/metal-identity.env"

if [[ -f "$kubeadm_config" ]]; then
  sed -i -e "s/__CAPP_METAL_DEVICE_ID__/$device_id/g" -e "s/__CAPP_METAL_NODE_IP__/$node_ip/g" "$kubeadm_config"
fi

if [[ "${1:-}" == "--kubelet-extra-args" ]]; then
  existing=""
  if [[ -f "$defaults" ]]; then
    existing=$(sed -n 's/^KUBELET_EXTRA_ARGS=//p' "$defaults" | tail -n 1 | tr -d '"')
    sed -i '/^KUBELET_EXTRA_ARGS=/d' "$defaults"
  fi
  mkdir -p "$(dirname "$defaults")"
  echo "KUBELET_EXTRA_ARGS=\"${existing:+$existing }--provider-id=equinixmetal://$device_id --node-ip=$node_ip\"" >> "$defaults"
fi
