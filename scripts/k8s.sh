#!/usr/bin/env bash
# A real single-node Kubernetes cluster on this machine, for Bay's tests.
#
# Nothing here is downloaded from a release page or a container registry: the
# Kubernetes binaries are compiled from the Go module proxy, etcd, the CNI
# plugins and ipset are unpacked from Debian's packages, and the pause image is
# compiled from the Kubernetes source. The cluster runs as plain host
# processes under one private directory, with its own containerd instance next
# to (never instead of) the one Docker uses. shared/spec/kubernetes.md §4
# gives the reasons behind the settings.
#
#   scripts/k8s.sh build          compile and unpack everything (cached per machine)
#   scripts/k8s.sh up             start the cluster; prints the kubeconfig path last
#   scripts/k8s.sh load IMAGE...  copy Docker images into the cluster's containerd
#   scripts/k8s.sh status         exit 0 when the node is Ready; prints node and pods
#   scripts/k8s.sh env            prints export lines (KUBECONFIG, PATH, ...)
#   scripts/k8s.sh down           stop everything and restore the host
#   scripts/k8s.sh check-clean    compare the host with the snapshot taken before `up`
#
# Environment:
#   BAY_K8S_CACHE    build cache, kept across clusters      (/var/cache/bay-k8s)
#   BAY_K8S_DIR      the cluster's private directory         (/var/lib/bay-k8s)
#   BAY_K8S_NODE_IP  node address, put on a bridge we create (10.243.0.1)
#   BAY_K8S_API_PORT apiserver port on the node address      (6443)
#
# Must run as root (it starts a kubelet). All log lines go to stderr, prefixed
# "k8s.sh:", and each daemon logs to $BAY_K8S_DIR/log/<name>.log.
set -euo pipefail

K8S_VERSION=v1.34.4         # not >= 1.35: this host is on cgroup v1
K8S_STAGING_VERSION=v0.34.4 # the staging modules (k8s.io/api, ...) of that release
KUBE_ROUTER_VERSION=v2.1.0  # NetworkPolicy enforcement
CRI_TOOLS_VERSION=v1.34.0   # crictl, used by `down` to remove pod sandboxes cleanly
PAUSE_TAG=3.10.1            # the pause version Kubernetes 1.34 expects
PAUSE_IMAGE=registry.k8s.io/pause:$PAUSE_TAG
DEBIAN_PACKAGES=(etcd-server containernetworking-plugins ipset libipset13)

CACHE=${BAY_K8S_CACHE:-/var/cache/bay-k8s}
DIR=${BAY_K8S_DIR:-/var/lib/bay-k8s}
NODE_IP=${BAY_K8S_NODE_IP:-10.243.0.1}
API_PORT=${BAY_K8S_API_PORT:-6443}
NODE_BRIDGE=bayk8s0         # holds NODE_IP; the kernel here lacks the dummy link type
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/24
CNI_BRIDGE=cni0
ETCD_PORT=12379             # loopback only; off the default port so a test etcd can coexist
ETCD_PEER_PORT=12380
NODE_NAME=bay-k8s-node

SELF=$(readlink -f "${BASH_SOURCE[0]}")

log() { printf 'k8s.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }

# ---------------------------------------------------------------------------
# build: everything the cluster runs, cached under $CACHE in directories named
# by version and by a hash of the recipe (the functions below), so a changed
# recipe builds afresh and an unchanged one is reused. Each piece is made in a
# temporary directory on the same filesystem and renamed into place, so an
# interrupted build never leaves a half-filled cache entry.
# ---------------------------------------------------------------------------

# go_module_field MODULE@VERSION FIELD: a field of `go mod download -json`.
go_module_field() {
  (cd / && GOFLAGS=-mod=mod go mod download -json "$1") |
    sed -n "s/^[[:space:]]*\"$2\": \"\\(.*\\)\",\{0,1\}\$/\\1/p"
}

# recipe_go OUT: the Kubernetes binaries, kubectl, kube-router and crictl.
recipe_go() {
  local out=$1 work gomod ldflags
  work=$(mktemp -d "$CACHE/.work-go.XXXXXX")
  mkdir -p "$out"
  export GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local CGO_ENABLED=0
  local godirective
  godirective=$(go env GOVERSION | sed -E 's/^go([0-9]+\.[0-9]+).*/\1/')

  # Kubernetes: a throwaway module that requires k8s.io/kubernetes and
  # replaces each staging module (listed in its go.mod as "=> ./staging/...")
  # by the published v0.x release of the same path.
  gomod=$(go_module_field "k8s.io/kubernetes@$K8S_VERSION" GoMod)
  [ -f "$gomod" ] || die "k8s.io/kubernetes@$K8S_VERSION: go.mod not found"
  mkdir -p "$work/k8s"
  {
    echo "module bay.invalid/k8s-build"
    echo
    echo "go $godirective"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    sed -nE "s#^[[:space:]]*(k8s\.io/[^ ]+) => \./staging/src/k8s\.io/.*#replace \1 => \1 $K8S_STAGING_VERSION#p" "$gomod"
  } >"$work/k8s/go.mod"
  [ "$(grep -c '^replace' "$work/k8s/go.mod")" -ge 30 ] || die "too few staging modules found in $gomod"
  # Without the version flags the binaries report v0.0.0-master, which
  # clients cannot parse.
  ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION"
  ldflags+=" -X k8s.io/component-base/version.gitMajor=$(echo "$K8S_VERSION" | sed -E 's/^v([0-9]+)\..*/\1/')"
  ldflags+=" -X k8s.io/component-base/version.gitMinor=$(echo "$K8S_VERSION" | sed -E 's/^v[0-9]+\.([0-9]+)\..*/\1/')"
  ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
  log "compiling Kubernetes $K8S_VERSION (about 20 minutes on 2 cores)"
  (cd "$work/k8s" && go build -trimpath -ldflags "$ldflags" -o "$out/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubelet \
    k8s.io/kubernetes/cmd/kube-proxy \
    k8s.io/kubernetes/cmd/kubectl)

  # kube-router and crictl each in a module of their own, so that their
  # dependencies resolve exactly as their own go.mod pins them.
  mkdir -p "$work/kube-router" "$work/cri-tools"
  printf 'module bay.invalid/kube-router-build\n\ngo %s\n\nrequire github.com/cloudnativelabs/kube-router/v2 %s\n' \
    "$godirective" "$KUBE_ROUTER_VERSION" >"$work/kube-router/go.mod"
  log "compiling kube-router $KUBE_ROUTER_VERSION"
  (cd "$work/kube-router" && go build -trimpath \
    -ldflags "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER_VERSION" \
    -o "$out/" github.com/cloudnativelabs/kube-router/v2/cmd/kube-router)
  printf 'module bay.invalid/cri-tools-build\n\ngo %s\n\nrequire sigs.k8s.io/cri-tools %s\n' \
    "$godirective" "$CRI_TOOLS_VERSION" >"$work/cri-tools/go.mod"
  log "compiling crictl $CRI_TOOLS_VERSION"
  (cd "$work/cri-tools" && go build -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRI_TOOLS_VERSION" \
    -o "$out/" sigs.k8s.io/cri-tools/cmd/crictl)
  rm -rf "$work"
}

# recipe_deb OUT: Debian's etcd, CNI plugins and ipset, unpacked (not
# installed: no service is started and nothing lands outside OUT).
recipe_deb() {
  local out=$1 work deb
  work=$(mktemp -d "$CACHE/.work-deb.XXXXXX")
  chmod 755 "$work" # apt's download sandbox user must be able to write here
  if ! (cd "$work" && apt-get download -q "${DEBIAN_PACKAGES[@]}" >&2); then
    log "apt-get download failed; updating the package lists once and retrying"
    apt-get update -q >&2
    (cd "$work" && apt-get download -q "${DEBIAN_PACKAGES[@]}" >&2)
  fi
  mkdir -p "$out/root" "$out/bin"
  for deb in "$work"/*.deb; do dpkg -x "$deb" "$out/root"; done
  # Entry points: etcd and the ipset tool (which needs its library from the
  # same unpacked tree; kube-router runs `ipset` from PATH).
  ln -s ../root/usr/bin/etcd "$out/bin/etcd"
  # (Paths are found at run time: OUT is renamed once complete.)
  cat >"$out/bin/ipset" <<'EOF'
#!/bin/sh
root=$(dirname "$(readlink -f "$0")")/../root
LD_LIBRARY_PATH="$root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$root/usr/sbin/ipset" "$@"
EOF
  chmod 755 "$out/bin/ipset"
  [ -x "$out/root/usr/lib/cni/bridge" ] || die "CNI plugins missing after unpacking"
  "$out/bin/ipset" version >/dev/null || die "the unpacked ipset does not run"
  "$out/bin/etcd" --version >/dev/null || die "the unpacked etcd does not run"
  rm -rf "$work"
}

# recipe_pause OUT: the pause binary compiled from the Kubernetes source and
# packed by hand as a `docker save` style archive that `ctr images import`
# reads, named $PAUSE_IMAGE.
recipe_pause() {
  local out=$1 work src layer_sha config_sha
  work=$(mktemp -d "$CACHE/.work-pause.XXXXXX")
  src=$(go_module_field "k8s.io/kubernetes@$K8S_VERSION" Dir)/build/pause/linux/pause.c
  [ -f "$src" ] || die "pause.c not found at $src"
  mkdir -p "$work/rootfs" "$work/image"
  gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_TAG" -o "$work/rootfs/pause" "$src"
  strip "$work/rootfs/pause"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    -C "$work/rootfs" -cf "$work/layer.tar" pause
  layer_sha=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
  mkdir -p "$work/image/$layer_sha"
  mv "$work/layer.tar" "$work/image/$layer_sha/layer.tar"
  printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/pause"],"User":"65535:65535"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"k8s.sh: gcc -Os -static pause.c"}]}' \
    "$layer_sha" >"$work/config.json"
  config_sha=$(sha256sum "$work/config.json" | cut -d' ' -f1)
  mv "$work/config.json" "$work/image/$config_sha.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' \
    "$config_sha" "$PAUSE_IMAGE" "$layer_sha" >"$work/image/manifest.json"
  mkdir -p "$out"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    -C "$work/image" -cf "$out/pause.tar" .
  cp "$work/rootfs/pause" "$out/pause"
  rm -rf "$work"
}

# cache_dir KIND: the content-addressed directory of one piece.
cache_dir() {
  local kind=$1 hash
  hash=$( {
    echo "$K8S_VERSION $K8S_STAGING_VERSION $KUBE_ROUTER_VERSION $CRI_TOOLS_VERSION $PAUSE_IMAGE"
    case $kind in
      bin) go env GOVERSION; declare -f recipe_go go_module_field ;;
      deb) echo "${DEBIAN_PACKAGES[*]}"; declare -f recipe_deb ;;
      pause) gcc --version | head -1; declare -f recipe_pause go_module_field ;;
    esac
  } | sha256sum | cut -c1-12)
  echo "$CACHE/$kind-$K8S_VERSION-$hash"
}

# build_piece KIND RECIPE: runs RECIPE into a temporary directory unless the
# cache entry exists, then renames it into place.
build_piece() {
  local kind=$1 recipe=$2 final tmp start
  final=$(cache_dir "$kind")
  if [ -d "$final" ]; then return 0; fi
  tmp="$final.tmp.$$"
  rm -rf "$tmp"
  start=$(date +%s)
  log "building $kind into $final"
  "$recipe" "$tmp"
  mv -T "$tmp" "$final"
  log "built $kind in $(($(date +%s) - start)) s"
}

cmd_build() {
  need_root
  mkdir -p "$CACHE"
  command -v go >/dev/null || die "go not found (expected /usr/local/go/bin/go)"
  # One build at a time per machine; a second caller waits and then finds
  # the cache filled.
  exec 9>"$CACHE/.lock"
  flock 9
  # Leftovers of an interrupted build.
  rm -rf "$CACHE"/.work-* "$CACHE"/*.tmp.*
  build_piece deb recipe_deb
  build_piece pause recipe_pause
  build_piece bin recipe_go
  flock -u 9
  exec 9>&-
  set_paths
  log "binaries in $BIN, Debian pieces in $DEB, pause image in $PAUSE"
}

# set_paths: where the cached pieces are. A running cluster keeps using
# the ones it was started from (recorded by `up`), even if the recipe or
# the Go toolchain has changed since.
set_paths() {
  if [ -f "$DIR/cache-paths" ]; then
    # shellcheck source=/dev/null
    . "$DIR/cache-paths"
  else
    BIN=$(cache_dir bin)
    DEB=$(cache_dir deb)
    PAUSE=$(cache_dir pause)
  fi
  CNI_BIN=$DEB/root/usr/lib/cni
}

# built: sets the paths of the current recipe's pieces; true if all exist.
built() {
  BIN=$(cache_dir bin) DEB=$(cache_dir deb) PAUSE=$(cache_dir pause)
  CNI_BIN=$DEB/root/usr/lib/cni
  [ -d "$BIN" ] && [ -d "$DEB" ] && [ -d "$PAUSE" ]
}

# ---------------------------------------------------------------------------
# Layout of the private directory
# ---------------------------------------------------------------------------
PKI=$DIR/pki
RUN=$DIR/run                # pid files
LOGS=$DIR/log
CTR_DIR=$DIR/containerd
CTR_SOCK=$CTR_DIR/containerd.sock
KUBECONFIG_ADMIN=$DIR/kubeconfig
HOST_SNAPSHOTS=$CACHE/host  # before/after snapshots outlive the private dir

# Paths outside the private directory that the cluster's programs create on
# their own, whatever their configuration says. `up` records which exist;
# `down` removes those that did not:
#   /var/lib/kubelet/device-plugins  the kubelet (fixed path)
#   /var/log/containers              the kubelet's legacy log links (fixed path)
#   /tmp/hostpath_pv                 the controller-manager's host-path provisioner
#   /var/lib/cni                     the CNI library's result cache (containerd 1.6
#                                    does not let it be moved)
REMOVED_PATHS=(/var/lib/kubelet /var/lib/kubelet/device-plugins /var/log/containers
  /tmp/hostpath_pv /var/lib/cni)
# Also watched (compared, never removed: other work on the machine may own
# them), in case a default was missed somewhere.
WATCHED_PATHS=("${REMOVED_PATHS[@]}" /var/log/pods /var/run/kubernetes /run/netns
  /etc/cni /opt/cni /opt/containerd /etc/kubernetes /var/lib/kube-router /var/lib/etcd /var/lib/containerd)
# The shims of any containerd 1.6 put their sockets in /run/containerd/s,
# whatever the daemon's state directory; Docker's shims share it. `down`
# removes these only if they were absent before and are empty; they are not
# compared.
SHARED_PATHS=(/run/containerd/s /run/containerd)

# Sysctls that the kubelet (and possibly kube-proxy, kube-router or the CNI
# bridge) set; `down` puts back the values recorded before `up`.
RESTORED_SYSCTLS=(kernel.panic kernel.panic_on_oops vm.overcommit_memory vm.panic_on_oom
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes
  net.ipv4.ip_forward net.ipv4.conf.all.forwarding net.ipv6.conf.all.forwarding
  net.ipv4.conf.all.route_localnet net.ipv4.conf.all.rp_filter
  net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
  net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_tcp_timeout_established
  net.netfilter.nf_conntrack_tcp_timeout_close_wait net.netfilter.nf_conntrack_tcp_be_liberal)

# Chains and ipsets the cluster creates; only those absent before `up` are
# removed, so anything of the same name that predates the cluster stays.
OUR_CHAINS_RE='^(KUBE-|CNI-)'
OUR_IPSETS_RE='^(KUBE-|kube-router|inet6:KUBE-|inet6:kube-router)'

# Every daemon `up` starts, in start order.
DAEMONS=(containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kube-router)

kubectl() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

# ---------------------------------------------------------------------------
# Processes: started detached (own session, output to a log file), recorded
# as "pid executable" so that a stop never hits a recycled pid.
# ---------------------------------------------------------------------------
start_daemon() {
  local name=$1 exe
  shift
  exe=$(readlink -f "$(command -v "$1")")
  # (The lock descriptors stay with this script, not with the daemons.)
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null 8>&- 9>&- &
  echo "$! $exe" >"$RUN/$name.pid"
  log "started $name (pid $!, log $LOGS/$name.log)"
}

# daemon_pid NAME: prints the pid if that process still runs the recorded
# executable.
daemon_pid() {
  local pid exe
  [ -f "$RUN/$1.pid" ] || return 1
  read -r pid exe <"$RUN/$1.pid"
  [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ] || return 1
  echo "$pid"
}

stop_pid() { # stop_pid PID NAME [SECONDS]: TERM, then KILL after SECONDS
  local pid=$1 name=$2 wait=${3:-15} i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < wait * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || { log "stopped $name (pid $pid)"; return 0; }
    sleep 0.1
  done
  log "$name (pid $pid) ignored SIGTERM for ${wait}s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
}

# stop_daemons SECONDS NAME...: SIGTERM to all at once (each takes a second
# or two to shut down gracefully), then SIGKILL to any still there after
# SECONDS.
stop_daemons() {
  local wait=$1 name pid i
  shift
  local -A pids=()
  for name in "$@"; do
    if pid=$(daemon_pid "$name"); then
      pids[$name]=$pid
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  for ((i = 0; i < wait * 10 && ${#pids[@]} > 0; i++)); do
    sleep 0.1
    for name in "${!pids[@]}"; do
      if ! kill -0 "${pids[$name]}" 2>/dev/null; then
        log "stopped $name (pid ${pids[$name]})"
        unset "pids[$name]"
      fi
    done
  done
  for name in "${!pids[@]}"; do
    log "$name (pid ${pids[$name]}) ignored SIGTERM for ${wait}s; killing it"
    kill -KILL "${pids[$name]}" 2>/dev/null || true
  done
  for name in "$@"; do rm -f "$RUN/$name.pid"; done
}

# wait_for DAEMON DESCRIPTION SECONDS COMMAND...: polls COMMAND until it
# succeeds; gives up early if DAEMON (whose readiness it waits for) exits.
wait_for() {
  local daemon=$1 what=$2 timeout=$3 deadline
  shift 3
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ! daemon_pid "$daemon" >/dev/null; then
      log "$daemon exited while waiting for $what; the end of $LOGS/$daemon.log:"
      tail -n 5 "$LOGS/$daemon.log" | sed 's/^/    /' >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      log "timed out after ${timeout}s waiting for $what"
      return 1
    fi
    sleep 0.5
  done
}

# ---------------------------------------------------------------------------
# Host snapshots: what `up` may change, captured before `up` and after
# `down`, and compared by `check-clean`. Docker's own objects (its veths,
# bridges, chains, mounts) come and go with other work on the machine; they
# are left out of the comparison.
# ---------------------------------------------------------------------------
snapshot_host() { # snapshot_host DIR
  local d=$1 p
  rm -rf "$d"
  mkdir -p "$d"
  # Links by name and type. Docker's bridges and veths are not ours: its
  # veths are named veth + 7 hex digits (the CNI bridge plugin's have 8) and
  # hang off docker0 or a br-<id> bridge.
  ip -o -d link show | grep -vE 'master (docker0|br-[0-9a-f]{12}) |^[0-9]+: (br-[0-9a-f]{12}|veth[0-9a-f]{7}(@[^:]*)?):' |
    awk '{name=$2; sub(/@.*/, "", name); sub(/:$/, "", name); kind="";
          for (i = 1; i < NF; i++) if ($i ~ /^(bridge|veth|vxlan|dummy|ipip|tun|tap|ifb)$/ && kind == "") kind=$i;
          print name, kind}' | sort >"$d/links" || true
  ip -o addr show | awk '{print $2, $3, $4}' | grep -vE '^(veth|br-[0-9a-f]{12} )' | sort >"$d/addrs" || true
  { ip -4 route show table all; ip -6 route show table all; } | sed 's/ linkdown//' |
    grep -vE 'dev (veth[0-9a-f]+|br-[0-9a-f]{12})( |$)' | sort >"$d/routes" || true
  local cmd docker_ips
  # Addresses of Docker's containers right now: rules naming them are Docker's.
  # shellcheck disable=SC2046 # one argument per network id
  docker_ips=$(docker network inspect -f '{{range .Containers}}{{.IPv4Address}} {{.IPv6Address}} {{end}}' \
    $(docker network ls -q 2>/dev/null) 2>/dev/null | tr ' ' '\n' | sed -n 's#/.*##p' | sort -u | sed 's/[.]/\\./g' | paste -sd'|' || true)
  for cmd in iptables ip6tables; do
    # Without counters and comments about the save itself; Docker's chains
    # and the rules that jump to them are dropped (they change with
    # Docker's containers).
    "$cmd-save" 2>/dev/null | sed -E 's/ \[[0-9]+:[0-9]+\]$//; s/^(:[^ ]+ [A-Z-]+) \[[0-9]+:[0-9]+\]/\1/' |
      grep -vE '^#' | grep -vE 'DOCKER|docker0|br-[0-9a-f]{12}' |
      { if [ -n "$docker_ips" ]; then grep -vE -- "-[sd] ($docker_ips)/(32|128) " || true; else cat; fi; } >"$d/$cmd" || true
  done
  if command -v nft >/dev/null; then nft list tables 2>/dev/null | sort >"$d/nft-tables" || true; fi
  if [ -n "${DEB:-}" ] && [ -x "$DEB/bin/ipset" ]; then
    "$DEB/bin/ipset" list -n 2>/dev/null | sort >"$d/ipsets" || true
  else
    : >"$d/ipsets"
  fi
  awk '{for (i = 7; i <= NF; i++) if ($i == "-") break; print $5, $(i + 1)}' /proc/self/mountinfo | grep -vE '^/(var/lib/docker|run/docker|var/run/docker)/' | sort >"$d/mounts"
  # Top-level cgroups of each hierarchy (deeper ones belong to whoever made
  # the top one: Docker's containers, this machine's own process groups),
  # and all of the kubelet's.
  {
    find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d 2>/dev/null
    find /sys/fs/cgroup/*/kubepods -type d 2>/dev/null || true
  } | grep -v '^/sys/fs/cgroup/[^/]*/docker$' | sort -u >"$d/cgroups" || true
  sysctl -a 2>/dev/null | grep -vE '^(fs\.(dentry-state|file-nr|inode-nr|inode-state|quota\.[a-z_]+)|kernel\.(ns_last_pid|random\.[a-z_]+)|net\.netfilter\.nf_conntrack_count|kernel\.pty\.nr) ' |
    grep -vE '^net\.ipv[46]\.(conf|neigh)\.' | sort >"$d/sysctl-all"
  # Per-interface sysctls only for all/default (interfaces come and go).
  sysctl -a 2>/dev/null | grep -E '^net\.ipv[46]\.(conf|neigh)\.(all|default)\.' | sort >>"$d/sysctl-all"
  for p in "${RESTORED_SYSCTLS[@]}"; do
    if [ -e "/proc/sys/${p//.//}" ]; then printf '%s\t%s\n' "$p" "$(cat "/proc/sys/${p//.//}")"; fi
  done >"$d/sysctl-restore"
  for p in "${WATCHED_PATHS[@]}"; do
    if [ -e "$p" ]; then
      echo "exists $p"
      find "$p" -maxdepth 2 2>/dev/null | sed 's/^/  /'
    else
      echo "absent $p"
    fi
  done >"$d/paths"
  for p in "${SHARED_PATHS[@]}"; do
    if [ -e "$p" ]; then echo "exists $p"; else echo "absent $p"; fi
  done >"$d/shared-paths"
}

# compare_snapshots BEFORE AFTER: one line per aspect, then the
# differences; 0 when there are none.
compare_snapshots() {
  local before=$1 after=$2 f rc=0 out diffs=""
  for f in links addrs routes iptables ip6tables nft-tables ipsets mounts cgroups sysctl-all paths; do
    [ -f "$before/$f" ] || continue
    out=$(diff -U0 "$before/$f" "$after/$f" | grep -vE '^(---|\+\+\+|@@)' || true)
    if [ -n "$out" ]; then
      rc=1
      printf '  %-11s DIFFERS\n' "$f"
      diffs+="== $f (- before up, + now)"$'\n'"$out"$'\n'
    else
      printf '  %-11s same (%s lines)\n' "$f" "$(wc -l <"$after/$f")"
    fi
  done
  printf '%s' "$diffs"
  return $rc
}

cmd_check_clean() {
  [ -d "$HOST_SNAPSHOTS/before" ] || die "no snapshot: run 'up' first"
  set_paths
  snapshot_host "$HOST_SNAPSHOTS/after"
  if compare_snapshots "$HOST_SNAPSHOTS/before" "$HOST_SNAPSHOTS/after" >"$HOST_SNAPSHOTS/diff"; then
    log "host clean: it matches the snapshot taken before 'up' (Docker's own objects aside):"
    cat "$HOST_SNAPSHOTS/diff" >&2
    return 0
  fi
  log "host differs from the snapshot taken before 'up' (saved in $HOST_SNAPSHOTS/diff):"
  cat "$HOST_SNAPSHOTS/diff" >&2
  return 1
}

# ---------------------------------------------------------------------------
# up
# ---------------------------------------------------------------------------
cluster_running() {
  [ -f "$KUBECONFIG_ADMIN" ] && daemon_pid kube-apiserver >/dev/null && daemon_pid kubelet >/dev/null &&
    daemon_pid containerd >/dev/null && daemon_pid etcd >/dev/null
}

rand_hex() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

make_pki() {
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=bay-k8s-ca" \
    -keyout "$PKI/ca.key" -out "$PKI/ca.crt" 2>/dev/null
  # sign NAME SUBJECT EXTENSIONS: a key and a certificate signed by the CA.
  sign() {
    openssl req -newkey rsa:2048 -nodes -sha256 -subj "$2" -keyout "$PKI/$1.key" -out "$PKI/$1.csr" 2>/dev/null
    printf '%s\n' "$3" >"$PKI/$1.ext"
    openssl x509 -req -sha256 -days 3650 -in "$PKI/$1.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
      -CAcreateserial -extfile "$PKI/$1.ext" -out "$PKI/$1.crt" 2>/dev/null
    rm -f "$PKI/$1.csr" "$PKI/$1.ext"
  }
  local svc_ip
  svc_ip=$(echo "$SERVICE_CIDR" | awk -F'[./]' '{print $1"."$2"."$3"."$4+1}')
  sign apiserver "/CN=kube-apiserver" "$(printf '%s\n' \
    'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' \
    "subjectAltName=IP:$NODE_IP,IP:$svc_ip,IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local")"
  sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" \
    "$(printf '%s\n' 'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=clientAuth')"
  sign kubelet "/CN=$NODE_NAME" "$(printf '%s\n' \
    'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' \
    "subjectAltName=IP:$NODE_IP,DNS:$NODE_NAME")"
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  # Static tokens: the admin (cluster-admin through system:masters) and one
  # identity per component, each bound by the default RBAC policy (the
  # node authorizer for the kubelet; kube-router gets its own role below).
  : >"$PKI/tokens.csv"
  local name user group token
  while IFS='|' read -r name user group; do
    token=$(rand_hex)
    echo "$token,$user,$user${group:+,\"$group\"}" >>"$PKI/tokens.csv"
    write_kubeconfig "$DIR/$name.kubeconfig" "$token" "$user"
  done <<EOF
admin|admin|system:masters
kube-controller-manager|system:kube-controller-manager|
kube-scheduler|system:kube-scheduler|
kubelet|system:node:$NODE_NAME|system:nodes
kube-proxy|system:kube-proxy|
kube-router|bay:kube-router|
EOF
  chmod 600 "$PKI"/*.key "$PKI/tokens.csv" "$DIR"/*.kubeconfig
}

write_kubeconfig() { # FILE TOKEN USER
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: bay-k8s
  cluster:
    server: https://$NODE_IP:$API_PORT
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $3
  user:
    token: $2
contexts:
- name: bay-k8s
  context:
    cluster: bay-k8s
    user: $3
current-context: bay-k8s
EOF
}

write_configs() {
  mkdir -p "$CTR_DIR" "$DIR/cni/net.d" "$DIR/cni/ipam" "$DIR/kubelet" "$DIR/pod-logs"
  # A containerd of our own: own socket, root, state (with the network
  # namespaces under it), runc root and plugin paths; nothing under
  # /var/lib/containerd, /run/containerd (but the shims' sockets, see
  # WATCHED_PATHS) or /opt.
  cat >"$CTR_DIR/config.toml" <<EOF
version = 2
root = "$CTR_DIR/root"
state = "$CTR_DIR/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = "$CTR_SOCK"

[ttrpc]
  address = ""

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$CTR_DIR/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # Root here lacks CAP_SYS_RESOURCE: without this runc fails every pod
  # sandbox with "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_unprivileged_ports = false
  stream_server_address = "127.0.0.1"

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$DIR/cni/net.d"
    max_conf_num = 1

  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    snapshotter = "overlayfs"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        Root = "$DIR/runc"
        SystemdCgroup = false
EOF

  # Pod network: one bridge, host-local addresses, masquerade for traffic
  # leaving the pod range. NetworkPolicy is enforced by kube-router.
  cat >"$DIR/cni/net.d/10-bay.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "bay-pods",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$CNI_BRIDGE",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$DIR/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF

  cat >"$DIR/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This host runs cgroup v1, which 1.34 still accepts when asked.
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$CTR_SOCK
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $PKI/kubelet.crt
tlsPrivateKeyFile: $PKI/kubelet.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
podLogsDir: $DIR/pod-logs
podCIDR: $POD_CIDR
clusterDomain: cluster.local
failSwapOn: false
rotateCertificates: false
serverTLSBootstrap: false
# Imported images cannot be pulled again: never collect them, and do not
# evict for a full-ish disk shared with the rest of the machine.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "1%"
  imagefs.available: "1%"
  nodefs.inodesFree: "1%"
EOF

  cat >"$DIR/kube-proxy-config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection:
  kubeconfig: $DIR/kube-proxy.kubeconfig
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# NodePorts only on the node's own address, and no route_localnet sysctl.
nodePortAddresses: ["$NODE_IP/32"]
iptables:
  localhostNodePorts: false
# Leave the host's conntrack sysctls as they are.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF
}

# The objects the cluster needs beyond the defaults: kube-router's role and
# a default StorageClass served by the host-path provisioner.
bootstrap_objects() {
  kubectl apply -f - >/dev/null <<'EOF'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: bay:kube-router
rules:
- apiGroups: [""]
  resources: [namespaces, pods, services, nodes, endpoints]
  verbs: [list, get, watch]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [list, get, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, get, watch]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch, update]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, create, update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: bay:kube-router
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: bay:kube-router
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: bay:kube-router
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubernetes.io/host-path
reclaimPolicy: Delete
volumeBindingMode: Immediate
EOF
}

kube_router_hooked() { iptables -S FORWARD | grep -q -- '-j KUBE-ROUTER-FORWARD'; }

node_ready() {
  [ "$(kubectl get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

up_failed() {
  log "up failed; the daemons' logs are kept in $CACHE/last-failed-logs"
  rm -rf "$CACHE/last-failed-logs"
  cp -a "$LOGS" "$CACHE/last-failed-logs" 2>/dev/null || true
  cmd_down || true
}

cmd_up() {
  need_root
  local start=$SECONDS
  if cluster_running; then
    set_paths
    log "cluster already running (kubeconfig $KUBECONFIG_ADMIN)"
    echo "$KUBECONFIG_ADMIN"
    return 0
  fi
  local tool
  for tool in runc containerd containerd-shim-runc-v2 ctr iptables ip6tables iptables-restore nft openssl curl; do
    command -v "$tool" >/dev/null || die "$tool not found"
  done
  if [ -e "$DIR" ] || ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then
    log "$DIR holds a cluster that is not running; cleaning it up first"
    cmd_down || log "the previous cluster did not leave the host as it found it (see above)"
  fi
  built || cmd_build

  # What the host looks like before we touch it.
  snapshot_host "$HOST_SNAPSHOTS/before"
  rm -rf "$HOST_SNAPSHOTS/after" "$HOST_SNAPSHOTS/diff"

  mkdir -p "$DIR" "$RUN" "$LOGS"
  chmod 700 "$DIR"
  printf 'BIN=%q\nDEB=%q\nPAUSE=%q\n' "$BIN" "$DEB" "$PAUSE" >"$DIR/cache-paths"
  # From here on, a failure tears down what was started (the logs are
  # kept in the cache for a look).
  trap up_failed EXIT
  export PATH="$BIN:$DEB/bin:$PATH"

  # The node's own address, on a bridge of ours with no ports: local
  # delivery works without carrier, and nothing leaves the machine.
  ip link add "$NODE_BRIDGE" type bridge
  ip addr add "$NODE_IP/32" dev "$NODE_BRIDGE"
  ip link set "$NODE_BRIDGE" up

  make_pki
  write_configs

  start_daemon containerd containerd --config "$CTR_DIR/config.toml"
  wait_for containerd "containerd" 30 ctr --address "$CTR_SOCK" version
  ctr --address "$CTR_SOCK" -n k8s.io images import "$PAUSE/pause.tar" >/dev/null

  start_daemon etcd etcd --name bay-k8s --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "bay-k8s=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state new \
    --quota-backend-bytes 2147483648 --snapshot-count 10000
  wait_for etcd "etcd" 30 curl -fsS "http://127.0.0.1:$ETCD_PORT/health"

  start_daemon kube-apiserver kube-apiserver \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port "$API_PORT" \
    --cert-dir "$PKI" --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" --token-auth-file "$PKI/tokens.csv" \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --allow-privileged=true \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$PKI/ca.crt" \
    --kubelet-preferred-address-types InternalIP,Hostname \
    --profiling=false --v=1
  wait_for kube-apiserver "kube-apiserver" 90 curl -fsS --cacert "$PKI/ca.crt" \
    -H "Authorization: Bearer $(grep ',admin,' "$PKI/tokens.csv" | cut -d, -f1)" \
    "https://$NODE_IP:$API_PORT/readyz"
  cp "$DIR/admin.kubeconfig" "$KUBECONFIG_ADMIN"
  chmod 600 "$KUBECONFIG_ADMIN"
  bootstrap_objects

  start_daemon kube-controller-manager kube-controller-manager \
    --kubeconfig "$DIR/kube-controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --use-service-account-credentials=true \
    --allocate-node-cidrs=true --cluster-cidr "$POD_CIDR" --node-cidr-mask-size 24 \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --enable-hostpath-provisioner=true \
    --profiling=false --v=1
  start_daemon kube-scheduler kube-scheduler \
    --kubeconfig "$DIR/kube-scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --profiling=false --v=1
  start_daemon kubelet kubelet \
    --config "$DIR/kubelet-config.yaml" --kubeconfig "$DIR/kubelet.kubeconfig" \
    --root-dir "$DIR/kubelet" --cert-dir "$PKI" \
    --node-ip "$NODE_IP" --hostname-override "$NODE_NAME" --v=1
  start_daemon kube-proxy kube-proxy --config "$DIR/kube-proxy-config.yaml" --v=1

  # kube-router exits at once when the Node object is not there yet.
  wait_for kubelet "the node to register" 60 kubectl get node "$NODE_NAME"
  start_daemon kube-router kube-router \
    --kubeconfig "$DIR/kube-router.kubeconfig" --hostname-override "$NODE_NAME" \
    --run-firewall=true --run-router=false --run-service-proxy=false \
    --enable-cni=false --enable-ipv6=false --health-port 0 --metrics-port 0 \
    --service-cluster-ip-range "$SERVICE_CIDR"

  wait_for kubelet "the node to be Ready" 120 node_ready
  wait_for kube-controller-manager "the default service account" 60 kubectl -n default get serviceaccount default
  # Policy enforcement is in place once kube-router has hooked its chain
  # into FORWARD.
  wait_for kube-router "kube-router's firewall" 60 kube_router_hooked
  local name
  for name in "${DAEMONS[@]}"; do
    daemon_pid "$name" >/dev/null || die "$name exited; see $LOGS/$name.log"
  done
  trap - EXIT
  log "cluster up in $((SECONDS - start)) s; node $NODE_NAME ($NODE_IP) Ready"
  echo "$KUBECONFIG_ADMIN"
}

# ---------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------
cmd_load() {
  need_root
  [ $# -gt 0 ] || die "usage: k8s.sh load IMAGE..."
  cluster_running || die "the cluster is not running"
  set_paths
  local image id record=$DIR/loaded-images start
  touch "$record"
  for image in "$@"; do
    id=$(docker image inspect -f '{{.Id}}' "$image") || die "no Docker image $image"
    if grep -qxF "$image $id" "$record"; then
      log "$image already loaded ($id)"
      continue
    fi
    start=$SECONDS
    docker save "$image" | ctr --address "$CTR_SOCK" -n k8s.io images import - >/dev/null
    echo "$image $id" >>"$record"
    log "loaded $image ($id) in $((SECONDS - start)) s"
  done
  # The images are in containerd now, but the node lists them in its
  # status only at the kubelet's next status update (up to ~10 s later):
  # what reads the node's image list (pull policy Never) waits for that.
  local name deadline=$((SECONDS + 90))
  for image in "$@"; do
    name=$image
    case $name in */*) ;; *) name=docker.io/library/$name ;; esac
    case $name in *:*) ;; *) name=$name:latest ;; esac
    until kubectl get nodes -o jsonpath='{.items[*].status.images[*].names}' 2>/dev/null | tr ' ",[]' '\n' | grep -qxF "$name"; do
      [ $SECONDS -lt $deadline ] || die "the node does not list $name 90 s after its import"
      sleep 1
    done
  done
  log "the node lists $*"
}

# ---------------------------------------------------------------------------
# status, env
# ---------------------------------------------------------------------------
cmd_status() {
  set_paths
  local name rc=0
  for name in "${DAEMONS[@]}"; do
    if pid=$(daemon_pid "$name"); then
      printf '%-24s running (pid %s)\n' "$name" "$pid"
    else
      printf '%-24s not running\n' "$name"
      rc=1
    fi
  done
  if [ -f "$KUBECONFIG_ADMIN" ] && [ -x "$BIN/kubectl" ]; then
    kubectl get nodes -o wide 2>&1 || rc=1
    echo
    kubectl get pods -A -o wide 2>&1 || rc=1
    node_ready || rc=1
  else
    echo "no cluster in $DIR"
    rc=1
  fi
  return $rc
}

cmd_env() {
  set_paths
  cat <<EOF
export KUBECONFIG=$KUBECONFIG_ADMIN
export BAY_K8S_KUBECTL=$BIN/kubectl
export BAY_K8S_NODE_IP=$NODE_IP
export BAY_K8S_CONTAINERD_ADDRESS=$CTR_SOCK
export PATH=$BIN:\$PATH
EOF
}

# ---------------------------------------------------------------------------
# down: stop by pid, then undo every change to the host.
# ---------------------------------------------------------------------------

# Shims of our containerd (they outlive it): matched by the exact socket
# path in their arguments, which no other containerd uses.
our_shim_pids() {
  local p
  for p in /proc/[0-9]*; do
    tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qE "^[^ ]*containerd-shim[^ ]* .*-address $CTR_SOCK( |$)" &&
      echo "${p#/proc/}"
  done
  return 0
}

# Every cgroup directory the kubelet made, deepest first.
our_cgroups() {
  local h
  for h in /sys/fs/cgroup/*/; do
    [ -d "${h}kubepods" ] || continue
    if [ -f "$HOST_SNAPSHOTS/before/cgroups" ] && grep -qxF "${h}kubepods" "$HOST_SNAPSHOTS/before/cgroups"; then
      continue # it predates the cluster
    fi
    find "${h}kubepods" -depth -type d
  done
}

sweep_iptables() {
  local cmd table dump chains script before
  for cmd in iptables ip6tables; do
    command -v "$cmd-save" >/dev/null || continue
    before=$HOST_SNAPSHOTS/before/$cmd
    for table in filter nat mangle raw; do
      dump=$("$cmd-save" -t "$table" 2>/dev/null) || continue
      chains=$(echo "$dump" | sed -n 's/^:\([^ ]*\) .*/\1/p' | grep -E "$OUR_CHAINS_RE" || true)
      if [ -f "$before" ]; then
        chains=$(echo "$chains" | while read -r c; do
          [ -n "$c" ] && ! grep -q "^:$c " "$before" && echo "$c"
        done || true)
      fi
      [ -n "$chains" ] || continue
      local re
      re=$(echo "$chains" | sed 's/[][\.*^$]/\\&/g' | paste -sd'|')
      # Rules elsewhere that jump to our chains go first, then our chains.
      script=$(
        echo "*$table"
        echo "$dump" | grep -E '^-A ' | grep -vE "^-A ($re) " | grep -E " -[jg] ($re)( |\$)" | sed 's/^-A /-D /' || true
        for c in $chains; do echo "-F $c"; done
        for c in $chains; do echo "-X $c"; done
        echo COMMIT
      )
      if ! echo "$script" | "$cmd-restore" --noflush; then
        log "$cmd-restore failed for table $table; script was:"
        echo "$script" >&2
      fi
    done
  done
}

# nftables tables that did not exist before `up`: kube-proxy's own, and the
# iptables-nft tables (mangle, ip6 filter, ...) that the first iptables
# command on them created, once they hold no rule.
sweep_nft_tables() {
  local family table save
  command -v nft >/dev/null || return 0
  [ -f "$HOST_SNAPSHOTS/before/nft-tables" ] || return 0
  nft list tables 2>/dev/null | while read -r _ family table; do
    grep -qx "table $family $table" "$HOST_SNAPSHOTS/before/nft-tables" && continue
    case $table in
      kube-proxy) ;;
      filter | nat | mangle | raw | security)
        case $family in ip) save=iptables-save ;; ip6) save=ip6tables-save ;; *) continue ;; esac
        if "$save" -t "$table" 2>/dev/null | grep -q '^-A'; then continue; fi
        ;;
      *) continue ;;
    esac
    log "removing nftables table $family $table (created by the cluster)"
    nft delete table "$family" "$table" || log "could not remove table $family $table"
  done || true
}

sweep_ipsets() {
  local ipset=$DEB/bin/ipset name
  [ -x "$ipset" ] || return 0
  { "$ipset" list -n 2>/dev/null || true; } | { grep -E "$OUR_IPSETS_RE" || true; } | while read -r name; do
    if [ -f "$HOST_SNAPSHOTS/before/ipsets" ] && grep -qxF "$name" "$HOST_SNAPSHOTS/before/ipsets"; then
      continue
    fi
    "$ipset" destroy "$name" 2>/dev/null || log "could not destroy ipset $name"
  done || true
}

restore_sysctls() {
  local key value path
  [ -f "$HOST_SNAPSHOTS/before/sysctl-restore" ] || return 0
  while IFS=$'\t' read -r key value; do
    path=/proc/sys/${key//.//}
    [ -e "$path" ] || continue
    if [ "$(cat "$path")" != "$value" ]; then
      log "restoring sysctl $key = $value (was $(cat "$path"))"
      printf '%s' "$value" >"$path" || log "could not restore $key"
    fi
  done <"$HOST_SNAPSHOTS/before/sysctl-restore"
}

remove_new_paths() {
  local p
  for p in "${SHARED_PATHS[@]}"; do
    if [ -e "$p" ] && grep -qxF "absent $p" "$HOST_SNAPSHOTS/before/shared-paths" 2>/dev/null; then
      rmdir "$p" 2>/dev/null || log "$p is in use (by another containerd's shims); left in place"
    fi
  done
  [ -f "$HOST_SNAPSHOTS/before/paths" ] || return 0
  # Deepest first, so that a parent is judged after its children.
  for p in $(printf '%s\n' "${REMOVED_PATHS[@]}" | awk '{print length, $0}' | sort -rn | cut -d' ' -f2-); do
    [ -e "$p" ] || continue
    grep -qxF "absent $p" "$HOST_SNAPSHOTS/before/paths" || continue
    log "removing $p (created by the cluster)"
    rm -rf --one-file-system "$p"
  done
}

cmd_down() {
  need_root
  local start=$SECONDS pid name mnt
  set_paths
  if [ ! -e "$DIR" ] && ! ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then
    log "no cluster in $DIR; nothing to do"
    return 0
  fi
  export PATH="$BIN:$DEB/bin:$PATH"
  log "stopping the cluster in $DIR"

  # The kubelet first, so that nothing restarts; then the pods, through the
  # runtime so that the CNI plugin releases addresses and rules.
  stop_daemons 20 kubelet
  if daemon_pid containerd >/dev/null && [ -x "$BIN/crictl" ]; then
    local crictl=("$BIN/crictl" --runtime-endpoint "unix://$CTR_SOCK" --image-endpoint "unix://$CTR_SOCK" --timeout 30s)
    # shellcheck disable=SC2046 # one argument per pod id
    "${crictl[@]}" stopp $("${crictl[@]}" pods -q 2>/dev/null) >/dev/null 2>&1 || true
    "${crictl[@]}" rmp -a -f >/dev/null 2>&1 || log "crictl rmp failed; continuing"
  fi
  stop_daemons 15 kube-router kube-proxy kube-scheduler kube-controller-manager kube-apiserver
  stop_daemons 20 etcd containerd

  # Anything left of the pods: shims, and processes still in the kubelet's
  # cgroups (all of them ours by construction).
  for pid in $(our_shim_pids); do stop_pid "$pid" "containerd-shim $pid" 5; done
  local cg
  for cg in $(our_cgroups); do
    for pid in $(cat "$cg/cgroup.procs" 2>/dev/null); do
      log "killing leftover pod process $pid ($cg)"
      kill -KILL "$pid" 2>/dev/null || true
    done
  done

  # Mounts under the private directory (pod volumes, container root
  # filesystems, network namespaces, shm), deepest first.
  for mnt in $(awk -v d="$DIR/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | awk '{print length, $0}' | sort -rn | cut -d' ' -f2-); do
    umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || log "could not unmount $mnt"
  done

  # Cgroups, deepest first (a cgroup goes once its processes have exited).
  local i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    local left=0
    for cg in $(our_cgroups); do rmdir "$cg" 2>/dev/null || left=1; done
    [ "$left" = 0 ] && break
    sleep 0.5
  done
  [ -z "$(our_cgroups)" ] || log "cgroups left: $(our_cgroups | tr '\n' ' ')"

  # Links: the pod bridge, any veth still attached to it, the node bridge.
  for name in $(ip -o link show master "$CNI_BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link del "$name" 2>/dev/null || true
  done
  for name in "$CNI_BRIDGE" "$NODE_BRIDGE"; do
    if ip link show "$name" >/dev/null 2>&1; then
      if [ -f "$HOST_SNAPSHOTS/before/links" ] && grep -q "^$name " "$HOST_SNAPSHOTS/before/links"; then
        continue
      fi
      ip link del "$name" && log "removed link $name"
    fi
  done

  sweep_iptables
  sweep_ipsets
  sweep_nft_tables
  restore_sysctls
  remove_new_paths

  rm -rf --one-file-system "$DIR" || log "could not remove all of $DIR (a mount left?)"
  log "cluster down in $((SECONDS - start)) s"
  if [ -d "$HOST_SNAPSHOTS/before" ]; then
    cmd_check_clean || return 1
  fi
}

main() {
  local cmd=${1:-}
  [ $# -gt 0 ] && shift
  case $cmd in
    build) cmd_build "$@" ;;
    up | down | load)
      # One of these at a time per machine (tests may start in parallel).
      need_root
      mkdir -p "$CACHE"
      exec 8>"$CACHE/.cluster.lock"
      flock 8
      "cmd_$cmd" "$@"
      ;;
    status) cmd_status "$@" ;;
    env) cmd_env "$@" ;;
    check-clean) cmd_check_clean "$@" ;;
    *)
      sed -n '2,/^set -euo/p' "$SELF" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
      exit 2
      ;;
  esac
}

main "$@"; exit
