#!/bin/bash
# Runs kube-vip as a static pod on control-plane nodes, announcing the control-plane endpoint
# over BGP with the peers Equinix Metal's metadata service lists. Written into cluster
# templates by capp-components.
#
# Usage: kube-vip.sh pre-kubeadm|post-kubeadm ADDRESS KUBE_VIP_VERSION
#
# The first control-plane node starts it before `kubeadm init`, joining nodes after
# `kubeadm join` (before, the join's discovery would reach the joining node itself).
set -euo pipefail

fail() {
  echo "capp kube-vip: $*" >&2
  exit 1
}

[ "$#" -eq 3 ] || fail "usage: $0 pre-kubeadm|post-kubeadm ADDRESS KUBE_VIP_VERSION"
phase=$1
address=$2
version=$3
kubeadm_dir=${CAPP_KUBEADM_DIR:-/run/kubeadm}
[[ $address =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] ||
  fail "the control-plane endpoint '$address' is not an IPv4 address (is the PacketCluster's vipManager KUBE_VIP?)"
[[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "kube-vip version '$version' is not vMAJOR.MINOR.PATCH"

if [ -f "$kubeadm_dir/kubeadm.yaml" ]; then
  [ "$phase" = pre-kubeadm ] || exit 0
else
  [ "$phase" = post-kubeadm ] || exit 0
fi

metadata=$(curl -fsSL --retry 10 --retry-delay 3 https://metadata.platformequinix.com/metadata)
field() { jq -r "$1" <<<"$metadata"; }
# BGP peers are reached through the private network's gateway.
gateway=$(field '.network.addresses[] | select(.public == false and .address_family == 4) | .gateway')
for peer in $(field '.bgp_neighbors[0].peer_ips[]'); do
  ip route replace "$peer" via "$gateway"
done
ip addr show dev lo | grep -q " $address/32 " || ip addr add "$address/32" dev lo

image=ghcr.io/kube-vip/kube-vip:$version
ctr image pull "$image"
mkdir -p /etc/kubernetes/manifests
ctr run --rm --net-host "$image" capp-kube-vip /kube-vip manifest pod \
  --interface lo \
  --address "$address" \
  --controlplane \
  --bgp \
  --localAS "$(field '.bgp_neighbors[0].customer_as')" \
  --bgpRouterID "$(field '.bgp_neighbors[0].customer_ip')" \
  --peerAS "$(field '.bgp_neighbors[0].peer_as')" \
  --peerAddress "$(field '.bgp_neighbors[0].peer_ips[0]')" \
  > /etc/kubernetes/manifests/kube-vip.yaml
