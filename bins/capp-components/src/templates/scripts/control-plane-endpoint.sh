#!/bin/bash
# Binds the cluster's control-plane endpoint (an Elastic IP that Equinix Metal routes to one
# control-plane node) to the loopback interface, now and at every boot, so the API server
# answers on it. Written into cluster templates by capp-components.
#
# Usage: control-plane-endpoint.sh pre-kubeadm|post-kubeadm ADDRESS
#
# The first control-plane node binds it before `kubeadm init` (kubeadm and the kubelet reach
# the new API server through it); joining nodes only after `kubeadm join`, because bound
# earlier the join's discovery would reach the joining node itself, where no API server runs.
set -euo pipefail

fail() {
  echo "capp control-plane endpoint: $*" >&2
  exit 1
}

[ "$#" -eq 2 ] || fail "usage: $0 pre-kubeadm|post-kubeadm ADDRESS"
phase=$1
address=$2
kubeadm_dir=${CAPP_KUBEADM_DIR:-/run/kubeadm}
[[ $address =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] ||
  fail "the control-plane endpoint '$address' is not an IPv4 address (is the PacketCluster's vipManager CPEM?)"

if [ -f "$kubeadm_dir/kubeadm.yaml" ]; then
  [ "$phase" = pre-kubeadm ] || exit 0
else
  [ "$phase" = post-kubeadm ] || exit 0
fi

cat > /etc/systemd/system/capp-control-plane-endpoint.service <<UNIT
[Unit]
Description=Bind the Kubernetes control-plane endpoint $address to lo
After=network.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'ip addr show dev lo | grep -q " $address/32 " || ip addr add $address/32 dev lo'

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now capp-control-plane-endpoint.service
