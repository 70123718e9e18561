#!/bin/bash
# Node preparation from capp-bootstrap's machine-config matrix, written into cluster
# templates by capp-components (see docs/clusterctl.md, "Node preparation").
#
# Usage: node-setup.sh control-plane|worker KUBERNETES_VERSION
#
# Selects the matrix entry serving this node (the running OS, as an Equinix Metal slug from
# /etc/os-release, and the Kubernetes version) exactly as MachineConfigMatrix::select does,
# fills the version-dependent values into that entry's script and runs it.
# CAPP_OS_RELEASE, CAPP_KUBEADM_DIR and CAPP_RUN_DIR override the paths read and written;
# CAPP_NODE_SETUP_DRY_RUN=1 prints the script instead of running it.
set -euo pipefail

here=$(dirname "$(readlink -f "$0")")
os_release=${CAPP_OS_RELEASE:-/etc/os-release}
kubeadm_dir=${CAPP_KUBEADM_DIR:-/run/kubeadm}
run_dir=${CAPP_RUN_DIR:-/run/capp}

fail() {
  echo "capp node setup: $*" >&2
  exit 1
}

[ "$#" -eq 2 ] || fail "usage: $0 control-plane|worker KUBERNETES_VERSION"
kind=$1
version=${2#v}
[[ $version =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] ||
  fail "Kubernetes version '$2' is not vMAJOR.MINOR.PATCH (the Machine's spec.version)"
major=${BASH_REMATCH[1]}
minor=${BASH_REMATCH[2]}
patch=${BASH_REMATCH[3]}

case $kind in
  worker) role=worker ;;
  control-plane)
    # CABPK writes kubeadm.yaml for the first control-plane node, kubeadm-join-config.yaml
    # for the others.
    if [ -f "$kubeadm_dir/kubeadm.yaml" ]; then
      role=control-plane-init
    else
      role=control-plane-join
    fi
    ;;
  *) fail "node kind '$kind' is not control-plane or worker" ;;
esac

# The Equinix Metal operating system slug of the running OS: ubuntu 24.04 -> ubuntu_24_04.
[ -r "$os_release" ] || fail "cannot read $os_release to identify the operating system"
os_id=$(. "$os_release" && echo "${ID:-}")
os_version=$(. "$os_release" && echo "${VERSION_ID:-}")
image="${os_id}_${os_version//./_}"
[[ $image =~ ^[a-z0-9_]+$ ]] || fail "cannot derive an OS slug from ID='$os_id' VERSION_ID='$os_version' in $os_release"

matches() {
  local pattern=$1
  case $pattern in
    -) return 0 ;;
    *.x) [ "${pattern%.x}" = "$major.$minor" ] ;;
    *) [ "$pattern" = "$major.$minor.$patch" ] ;;
  esac
}

entry='' runtime='' script='' offered=''
while IFS=$'\t' read -r t_image t_kubelet t_control_plane t_entry t_runtime t_script; do
  offered+=$'\n'"  $t_entry: $t_image kubelet $t_kubelet"
  [ "$t_control_plane" = - ] || offered+=" controlPlane $t_control_plane"
  [ "$t_image" = "$image" ] && matches "$t_kubelet" && matches "$t_control_plane" || continue
  if [ -z "$entry" ]; then
    entry=$t_entry runtime=$t_runtime script=$t_script
  elif [ "$entry" != "$t_entry" ]; then
    fail "more than one matrix entry serves image $image, Kubernetes $version: $entry, $t_entry"
  elif [ "$runtime" != "$t_runtime" ]; then
    fail "matrix entry $entry lists conflicting runtimes for image $image, Kubernetes $version: $runtime, $t_runtime"
  fi
done < "$here/matrix.tsv"
[ -n "$entry" ] ||
  fail "no machine-config matrix entry matches image $image, kubelet $version ($kind); the matrix offers:$offered"

mkdir -p "$run_dir"
sed -e "s|@CAPP_ENTRY@|$entry|g" \
  -e "s|@CAPP_IMAGE@|$image|g" \
  -e "s|@CAPP_RUNTIME_PACKAGE@|$runtime|g" \
  -e "s|@CAPP_ROLE@|$role|g" \
  -e "s|@CAPP_KUBERNETES_VERSION@|$major.$minor.$patch|g" \
  -e "s|@CAPP_KUBERNETES_TAG@|v$major.$minor.$patch|g" \
  -e "s|@CAPP_KUBERNETES_MINOR_TAG@|v$major.$minor|g" \
  -e "s|@CAPP_KUBERNETES_MAJOR@|$major|g" \
  -e "s|@CAPP_KUBERNETES_MINOR@|$minor|g" \
  -e "s|@CAPP_KUBERNETES_PATCH@|$patch|g" \
  "$here/$script" > "$run_dir/node-setup.sh"
chmod 0700 "$run_dir/node-setup.sh"
if [ "${CAPP_NODE_SETUP_DRY_RUN:-}" = 1 ]; then
  cat "$run_dir/node-setup.sh"
  exit 0
fi
echo "capp node setup: matrix entry $entry for $image, Kubernetes $version ($role)"
exec /bin/bash "$run_dir/node-setup.sh"
