#!/usr/bin/env bash
# Builds the Ship runtime images without any registry:
#   mmdebstrap (host, Debian mirror from the host's apt config) → docker import
#   → docker build with the static Go binary on top.
#
# Usage: images/build.sh ship|data|fake|browser|browser-full|all|bay|postgres...
#        images/build.sh image NAME...   (by tag, e.g. bay:latest)
#
# `all` is the runtime images the tests and `./task run` use; Bay's own
# image (bay) and its Postgres (postgres) are for deploy/ and are built
# only when named.
#
# Every step is content-addressed: the base rootfs image is tagged with a hash
# of its package list and recipe, the final images with a hash of their build
# context (Dockerfile + binary + files). Existing tags are reused, so an
# unchanged rebuild only re-runs `go build` (cached) and a few `docker image
# inspect` calls.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUITE=bookworm
BUILD_DIR="$ROOT/build"
TIMING_LOG="$BUILD_DIR/image-timings.log"

log() { printf '[build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[build] error: %s\n' "$*" >&2; exit 1; }

# Bumped by hand whenever the mmdebstrap recipe below changes in a way the
# package list does not capture.
RECIPE_VERSION=1

PKGS_COMMON=python3-ipykernel,python3-venv,python3-pip,tini,sudo,procps,ca-certificates,less,git,curl,nodejs,npm,nftables
# python3-munkres is mandatory next to matplotlib: without it apt satisfies
# fonttools' "scipy | munkres" with scipy, which drags in a compiler chain.
PKGS_DATA=$PKGS_COMMON,python3-numpy,python3-pandas,python3-matplotlib,python3-munkres
# The browser runtime (browser.md §5.2): Debian's headless shell (no GTK;
# bookworm-security carries the current Chromium), fonts for Latin text and
# tini. Not `chromium` (it pulls GTK) and not `chromium-sandbox` (a setuid
# helper, inert under no-new-privileges: the namespace sandbox is used).
PKGS_BROWSER=chromium-headless-shell,fonts-liberation,fonts-dejavu-core,ca-certificates,tini
PKGS_BROWSER_FULL=$PKGS_BROWSER,fonts-noto-color-emoji,fonts-noto-cjk
# Bay's Postgres (bookworm's 15) for deploy/: the server and nothing else.
PKGS_POSTGRES=postgresql

# POSTGRES_OPTS are the postgres base's own mmdebstrap options, hashed with
# it. The user postgres gets the fixed uid/gid 999 (so that a pod can run
# as it: runAsUser 999) by being in /etc/passwd before postgresql-common's
# postinst, whose `adduser --system` then keeps it. The JIT's LLVM (libLLVM
# and its libz3, about 130 MB installed) is left out: the image turns jit
# off, and the server loads llvmjit.so only for JIT. The cluster (and snakeoil
# key) the package makes at install are removed before the rootfs is
# packed: the entrypoint makes its own cluster in $PGDATA.
POSTGRES_OPTS=(
	--essential-hook='echo "postgres:x:999:999:PostgreSQL administrator:/var/lib/postgresql:/bin/bash" >>"$1/etc/passwd"'
	--essential-hook='echo "postgres:x:999:" >>"$1/etc/group"'
	--customize-hook='chroot "$1" pg_dropcluster 15 main'
	--customize-hook='chroot "$1" sh -c "rm -f /etc/ssl/private/ssl-cert-snakeoil.key /etc/ssl/certs/ssl-cert-snakeoil.pem && find /etc/ssl/certs -xtype l -delete"'
	--dpkgopt='path-exclude=/usr/lib/*/libLLVM-*'
	--dpkgopt='path-exclude=/usr/lib/*/libz3.so*'
	--dpkgopt='path-exclude=/usr/lib/postgresql/*/lib/llvmjit*'
	--dpkgopt='path-exclude=/usr/lib/postgresql/*/lib/bitcode/*'
)

MMDEBSTRAP_OPTS=(
	--variant=minbase --mode=root
	# Without the merged-usr hook mmdebstrap installs usrmerge and perl (+48 MB).
	--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
	--aptopt='APT::Install-Recommends "false"'
	--dpkgopt='path-exclude=/usr/share/doc/*'
	--dpkgopt='path-include=/usr/share/doc/*/copyright'
	--dpkgopt='path-exclude=/usr/share/man/*'
	--dpkgopt='path-exclude=/usr/share/info/*'
	--dpkgopt='path-exclude=/usr/share/locale/*'
	--dpkgopt='path-include=/usr/share/locale/locale.alias'
)

hash_of() { sha256sum | cut -c1-16; }

need_root() {
	[ "$(id -u)" -eq 0 ] || die "must run as root (mmdebstrap --mode=root and apt-get need it)"
}

ensure_docker() {
	command -v docker >/dev/null || die "docker CLI not found; install docker.io"
	docker info >/dev/null 2>&1 || die "the Docker daemon does not answer 'docker info'; start dockerd first"
}

ensure_mmdebstrap() {
	command -v mmdebstrap >/dev/null && return 0
	need_root
	log "mmdebstrap missing; installing it with apt-get"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mmdebstrap >/dev/null 2>&1; then
		log "apt-get install failed; running apt-get update first"
		apt-get update -q >&2 || die "apt-get update failed: the Debian mirror in the host's apt config is unreachable"
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mmdebstrap >&2 ||
			die "cannot install mmdebstrap with apt-get (install it by hand: apt-get install -y mmdebstrap)"
	fi
	command -v mmdebstrap >/dev/null || die "mmdebstrap still not on PATH after installing it"
}

# host_deb_uri SUITE_REGEX prints the URI of the first host apt source whose
# suites match. deb822 files (*.sources) are read first, then one-line
# sources.list entries.
host_deb_uri() {
	local want=$1 f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v want="$want" 'BEGIN { RS = ""; FS = "\n" }
			{ uri = ""; suites = ""; enabled = 1
			  for (i = 1; i <= NF; i++) {
				if ($i ~ /^URIs:/)   { split($i, f, /[ \t]+/); uri = f[2] }
				if ($i ~ /^Suites:/) { suites = $i " " }
				if ($i ~ /^Enabled:[ \t]*no/) { enabled = 0 }
			  }
			  if (enabled && uri != "" && suites ~ want) { print uri; exit } }' "$f"
	done | head -n1 | grep . && return 0
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		# deb [opts] URI SUITE COMPONENTS...
		awk -v want="$want" '$1 == "deb" {
				i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
				if ((" " $(i+1) " ") ~ want) { print $i; exit } }' "$f"
	done | head -n1 | grep .
}

find_mirrors() {
	MIRROR=$(host_deb_uri "[ \t]$SUITE[ \t]") || die "no '$SUITE' source in /etc/apt/sources.list{,.d}; cannot pick a Debian mirror"
	SECURITY=$(host_deb_uri "[ \t]$SUITE-security[ \t]") || SECURITY=""
	log "mirror: $MIRROR${SECURITY:+, security: $SECURITY}"
	APT_PROXY=$(apt-config dump 2>/dev/null | sed -n 's/^Acquire::http::Proxy "\(.*\)";$/\1/p' | head -n1)
}

check_mirror() {
	command -v curl >/dev/null || return 0
	curl -fsS -o /dev/null --max-time 20 ${APT_PROXY:+--proxy "$APT_PROXY"} "$MIRROR/dists/$SUITE/Release" ||
		die "Debian mirror unreachable: $MIRROR/dists/$SUITE/Release (check the host's network and apt config)"
}

# build_base NAME PKGS [REPO [OPTION...]] prints the tag of the imported
# rootfs image, building it when no image with that content hash exists
# yet. The tag is ship-base:NAME-<hash>, or REPO:<hash> when REPO is given.
# OPTIONs are extra mmdebstrap options of this base, part of its hash.
build_base() {
	local name=$1 pkgs=$2 repo=${3:-} hash tag start
	shift $(($# < 3 ? $# : 3))
	local own=("$@")
	hash=$( {
		echo "$RECIPE_VERSION $SUITE $pkgs"
		printf '%s\n' "${MMDEBSTRAP_OPTS[@]}"
		# Only when present, so that the other bases keep their hashes.
		[ ${#own[@]} -eq 0 ] || printf '%s\n' "${own[@]}"
	} | hash_of)
	tag="ship-base:$name-$hash"
	[ -n "$repo" ] && tag="$repo:$hash"
	if docker image inspect "$tag" >/dev/null 2>&1; then
		log "base $tag exists, skipping mmdebstrap"
		echo "$tag"
		return 0
	fi
	need_root
	ensure_mmdebstrap
	find_mirrors
	check_mirror
	local sources=("deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main")
	[ -n "$SECURITY" ] && sources+=("deb $SECURITY $SUITE-security main")
	local extra=()
	[ -n "${APT_PROXY:-}" ] && extra+=(--aptopt="Acquire::http::Proxy \"$APT_PROXY\"")
	log "building base $tag with mmdebstrap (1.5-3 min; apt progress follows)"
	start=$(date +%s)
	# mmdebstrap writes its progress to stderr; a heartbeat line every 15 s
	# shows the build is alive during the long download/unpack phases.
	(while sleep 15; do log "mmdebstrap still running ($(($(date +%s) - start)) s)"; done) &
	local beat=$!
	local rc=0
	mmdebstrap "${MMDEBSTRAP_OPTS[@]}" "${own[@]}" "${extra[@]}" --include="$pkgs" "$SUITE" - "${sources[@]}" |
		docker import -c 'ENV LANG=C.UTF-8' -c 'CMD ["/bin/bash"]' - "$tag" >/dev/null || rc=$?
	kill "$beat" 2>/dev/null || true
	wait "$beat" 2>/dev/null || true
	[ "$rc" -eq 0 ] || die "mmdebstrap/docker import of $tag failed (exit $rc); see the messages above"
	local secs=$(($(date +%s) - start))
	log "base $tag built in ${secs} s"
	mkdir -p "$BUILD_DIR"
	echo "$(date -Is) base $tag cold_seconds=$secs" >>"$TIMING_LOG"
	echo "$tag"
}

# Test-only changes do not change the binary's version (and so the image).
VERSION_EXCLUDES=(':!*_test.go' ':!ship/containertest')

go_version() {
	if [ -n "${SHIP_VERSION:-}" ]; then
		echo "$SHIP_VERSION"
		return
	fi
	local v
	v=0.1.0-$(git -C "$ROOT" log -1 --format=%h -- ship cmd/ship cmd/fakeship go.mod go.sum "${VERSION_EXCLUDES[@]}" 2>/dev/null || echo unknown)
	if [ -n "$(git -C "$ROOT" status --porcelain -- ship cmd/ship cmd/fakeship go.mod go.sum "${VERSION_EXCLUDES[@]}" 2>/dev/null)" ]; then
		v="$v-dirty"
	fi
	echo "$v"
}

# browser_version is go_version for browserd: the last commit touching the
# browser runtime's sources (browser.md §5.2); override with BROWSERD_VERSION.
browser_version() {
	if [ -n "${BROWSERD_VERSION:-}" ]; then
		echo "$BROWSERD_VERSION"
		return
	fi
	local v paths=(browser cmd/browserd go.mod go.sum ':!*_test.go' ':!browser/containertest')
	v=0.1.0-$(git -C "$ROOT" log -1 --format=%h -- "${paths[@]}" 2>/dev/null || echo unknown)
	[ "$v" = 0.1.0- ] && v=0.1.0-unknown
	if [ -n "$(git -C "$ROOT" status --porcelain -- "${paths[@]}" 2>/dev/null)" ]; then
		v="$v-dirty"
	fi
	echo "$v"
}

# go_binary PKG OUT [VERSION] builds a static binary.
go_binary() {
	local pkg=$1 out=$2 version=${3:-}
	[ -n "$version" ] || version=$(go_version)
	(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath \
		-ldflags="-s -w -X main.version=$version" -o "$out" "$pkg") ||
		die "go build $pkg failed"
}

# docker_build_hashed CTX REPO FINAL_TAG builds CTX as REPO:<hash of CTX>
# unless that exists, then points FINAL_TAG at it.
docker_build_hashed() {
	local ctx=$1 repo=$2 final=$3 hash tag
	hash=$(cd "$ctx" && find . -type f -print0 | sort -z | xargs -0 sha256sum | hash_of)
	tag="$repo:c-$hash"
	if docker image inspect "$tag" >/dev/null 2>&1; then
		log "$tag exists (inputs unchanged), skipping docker build"
	else
		log "docker build $tag"
		DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$ctx" >/dev/null 2>"$ctx.err" || {
			cat "$ctx.err" >&2
			die "docker build of $tag failed"
		}
	fi
	local previous
	previous=$(docker image inspect -f '{{.Id}}' "$final" 2>/dev/null || true)
	docker tag "$tag" "$final"
	# Drop the content tag of the image $final pointed to before, so old
	# builds do not pile up; `docker rmi` of a tag keeps images still
	# tagged otherwise.
	if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect -f '{{.Id}}' "$final")" ]; then
		docker image inspect -f '{{join .RepoTags "\n"}}' "$previous" 2>/dev/null |
			grep "^$repo:c-" | xargs -r docker rmi >/dev/null 2>&1 || true
	fi
	log "$final -> $tag ($(docker image inspect -f '{{.Size}}' "$final" | awk '{printf "%.0f MB", $1/1e6}'))"
}

# image_inventory BASE OUT writes the inventory of BASE to OUT:
# images/ship/inventory.py run on the base's own dpkg database (no network).
# The result is cached under build/ by the base image's id and the script's
# hash, so an unchanged rebuild starts no container; in the build context it
# is an input of the context hash like any file.
image_inventory() {
	local base=$1 out=$2 id key cache
	id=$(docker image inspect -f '{{.Id}}' "$base") || die "cannot inspect $base"
	key=$( { echo "$id"; cat "$ROOT/images/ship/inventory.py"; } | hash_of)
	cache="$BUILD_DIR/inventory/$key.json"
	if [ ! -s "$cache" ]; then
		log "writing the inventory of $base (dpkg-query in the image)"
		mkdir -p "$BUILD_DIR/inventory"
		docker run --rm -i --network none "$base" python3 - <"$ROOT/images/ship/inventory.py" >"$cache.tmp" || {
			rm -f "$cache.tmp"
			die "could not write the inventory of $base; see the messages above"
		}
		mv "$cache.tmp" "$cache"
	fi
	cp "$cache" "$out"
}

new_ctx() {
	mkdir -p "$BUILD_DIR"
	mktemp -d "$BUILD_DIR/ctx-$1.XXXXXX"
}

CTXS=()
cleanup() { for c in "${CTXS[@]}"; do rm -rf "$c" "$c.err"; done; }
trap cleanup EXIT

# ship_image FLAVOUR BASE_PKGS FINAL_TAG
ship_image() {
	local flavour=$1 pkgs=$2 final=$3 base ctx start cold=no lines
	start=$(date +%s)
	lines=$( { cat "$TIMING_LOG" 2>/dev/null || true; } | wc -l)
	base=$(build_base "$flavour" "$pkgs")
	# build_base runs in a subshell; a new base shows as a new log line.
	[ "$( { cat "$TIMING_LOG" 2>/dev/null || true; } | wc -l)" -gt "$lines" ] && cold=yes
	ctx=$(new_ctx "$flavour")
	CTXS+=("$ctx")
	go_binary ./cmd/ship "$ctx/ship"
	cp "$ROOT/images/ship/bashrc" "$ctx/bashrc"
	cp "$ROOT/images/ship/matplotlibrc" "$ctx/matplotlibrc"
	image_inventory "$base" "$ctx/inventory.json"
	local extra="# no extra step"
	if [ "$flavour" = data ]; then
		# Bake matplotlib's font cache so the first plot does not rebuild it.
		extra="RUN MPLCONFIGDIR=/var/cache/ship/matplotlib python3 -c 'import matplotlib.pyplot' \&\& chown -R 1000:1000 /var/cache/ship"
	fi
	# The binary is copied last so that the layers above stay cached when
	# only the binary changes.
	sed -e "s|@BASE@|$base|" -e "s|@IMAGE@|$final|" -e "s|@EXTRA@|$extra|" \
		"$ROOT/images/ship/Dockerfile.in" >"$ctx/Dockerfile"
	docker_build_hashed "$ctx" ship "$final"
	echo "$(date -Is) image $final seconds=$(($(date +%s) - start)) with_new_base=$cold" >>"$TIMING_LOG"
}

fake_image() {
	local ctx
	ctx=$(new_ctx fake)
	CTXS+=("$ctx")
	go_binary ./cmd/fakeship "$ctx/fake"
	mkdir -p "$ctx/tmp"
	touch "$ctx/tmp/.keep"
	cp "$ROOT/images/fake/Dockerfile" "$ctx/Dockerfile"
	docker_build_hashed "$ctx" bay-fake-runtime bay-fake-runtime:latest
}

# browser_image FLAVOUR BASE_PKGS FINAL_TAG builds the browser runtime
# (browser.md §5.2): base browser-base:<hash>, then bay-browser:c-<hash>
# with the static browserd copied last.
browser_image() {
	local flavour=$1 pkgs=$2 final=$3 base ctx start cold=no lines
	start=$(date +%s)
	lines=$( { cat "$TIMING_LOG" 2>/dev/null || true; } | wc -l)
	base=$(build_base "$flavour" "$pkgs" browser-base)
	[ "$( { cat "$TIMING_LOG" 2>/dev/null || true; } | wc -l)" -gt "$lines" ] && cold=yes
	ctx=$(new_ctx "$flavour")
	CTXS+=("$ctx")
	go_binary ./cmd/browserd "$ctx/browserd" "$(browser_version)"
	sed -e "s|@BASE@|$base|" -e "s|@IMAGE@|$final|" \
		"$ROOT/images/browser/Dockerfile.in" >"$ctx/Dockerfile"
	docker_build_hashed "$ctx" bay-browser "$final"
	echo "$(date -Is) image $final seconds=$(($(date +%s) - start)) with_new_base=$cold" >>"$TIMING_LOG"
}

# Bay's static build, as Taskfile's build: cgo for SQLite, linked
# statically; netgo/osusergo keep glibc's NSS out of the static link.
BAY_TAGS='sqlite_omit_load_extension netgo osusergo'

# bay_sources prints the repository files the bay binary is made of: the
# Go, cgo and embedded files of this module's packages it links, and
# go.mod and go.sum. Tests, docs and the runtimes are not among them.
bay_sources() {
	(cd "$ROOT" && go list -deps -tags "$BAY_TAGS" -f '{{if and .Module .Module.Main}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}
{{end}}{{range .CgoFiles}}{{$d}}/{{.}}
{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}
{{end}}{{end}}' ./cmd/bay) | sed "s|^$ROOT/||" || return
	printf '%s\n' go.mod go.sum
}

# bay_version is the bay binary's version: `git describe` of the last
# commit touching its sources, plus -dirty when they have uncommitted
# changes; override with BAY_VERSION. Only a change to the binary changes
# it, so only such a change makes a new image.
bay_version() {
	if [ -n "${BAY_VERSION:-}" ]; then
		echo "$BAY_VERSION"
		return
	fi
	local list files commit v
	list=$(bay_sources) || die "go list ./cmd/bay failed; see the messages above"
	mapfile -t files <<<"$list"
	commit=$(git -C "$ROOT" log -1 --format=%H -- "${files[@]}" 2>/dev/null || true)
	v=$( [ -n "$commit" ] && git -C "$ROOT" describe --tags --always "$commit" 2>/dev/null || echo dev)
	if [ -n "$(git -C "$ROOT" status --porcelain -- "${files[@]}" 2>/dev/null)" ]; then
		v="$v-dirty"
	fi
	echo "$v"
}

# bay_image builds Bay's own image (kubernetes.md §3) FROM scratch: the
# static bay binary, a probe for health checks, the host's CA bundle, a
# non-root user (bay, 65532:65532) and its data directory, /var/lib/bay,
# for SQLite. Final tag bay:latest, content tag bay:c-<hash>.
bay_image() {
	local ctx version start
	start=$(date +%s)
	command -v gcc >/dev/null || die "gcc not found: Bay's static build links SQLite with cgo (apt-get install gcc libc6-dev)"
	local certs=/etc/ssl/certs/ca-certificates.crt
	[ -s "$certs" ] || die "$certs is missing: install the host's ca-certificates (apt-get install ca-certificates)"
	ctx=$(new_ctx bay)
	CTXS+=("$ctx")
	version=$(bay_version)
	log "go build ./cmd/bay (static, cgo) version $version"
	(cd "$ROOT" && CGO_ENABLED=1 go build -trimpath -tags "$BAY_TAGS" \
		-ldflags="-s -w -X main.version=$version -linkmode external -extldflags -static" \
		-o "$ctx/bay" ./cmd/bay) || die "go build ./cmd/bay failed"
	go_binary ./images/bay/probe "$ctx/bay-probe" "$version"
	# The files of the root file system go in as one tar (ADD unpacks it):
	# COPY cannot make /tmp world-writable with the sticky bit. Fixed
	# owners, modes and times keep the tar, and so the context hash, stable.
	local fs="$ctx.rootfs"
	CTXS+=("$fs")
	mkdir -p "$fs/etc/ssl/certs" "$fs/tmp"
	cp "$ROOT/images/bay/passwd" "$ROOT/images/bay/group" "$fs/etc/"
	cp "$certs" "$fs/etc/ssl/certs/ca-certificates.crt"
	find "$fs" -type d -exec chmod 0755 {} +
	find "$fs" -type f -exec chmod 0644 {} +
	chmod 1777 "$fs/tmp"
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
		-C "$fs" -cf "$ctx/rootfs.tar" etc tmp || die "cannot write the root file system's tar"
	mkdir "$ctx/data" # empty: COPY --chown makes /var/lib/bay from it
	cp "$ROOT/images/bay/Dockerfile" "$ctx/Dockerfile"
	docker_build_hashed "$ctx" bay bay:latest
	echo "$(date -Is) image bay:latest seconds=$(($(date +%s) - start))" >>"$TIMING_LOG"
}

# postgres_image builds bay-postgres:latest: PostgreSQL from Debian
# (base bay-postgres-base:<hash>) with images/postgres/entrypoint.sh.
postgres_image() {
	local base ctx start
	start=$(date +%s)
	base=$(build_base postgres "$PKGS_POSTGRES" bay-postgres-base "${POSTGRES_OPTS[@]}")
	ctx=$(new_ctx postgres)
	CTXS+=("$ctx")
	cp "$ROOT/images/postgres/entrypoint.sh" "$ctx/entrypoint.sh"
	chmod 0755 "$ctx/entrypoint.sh"
	sed -e "s|@BASE@|$base|" "$ROOT/images/postgres/Dockerfile.in" >"$ctx/Dockerfile"
	docker_build_hashed "$ctx" bay-postgres bay-postgres:latest
	echo "$(date -Is) image bay-postgres:latest seconds=$(($(date +%s) - start))" >>"$TIMING_LOG"
}

# build_named NAME... builds the images Bay knows by their tag (what
# `bay images` prints) and says which other names it cannot build.
build_named() {
	local img
	for img in "$@"; do
		case "$img" in
		ship:latest) main ship ;;
		ship:data) main data ;;
		bay-fake-runtime:latest) main fake ;;
		bay-browser:latest) main browser ;;
		bay-browser:full) main browser-full ;;
		bay:latest) main bay ;;
		bay-postgres:latest) main postgres ;;
		*)
			if docker image inspect "$img" >/dev/null 2>&1; then
				log "$img is not one of Bay's images; it is present"
			else
				die "$img is not one of Bay's images and is not present: build or load it yourself (docker load), or change the profile"
			fi
			;;
		esac
	done
}

main() {
	local what=${1:-}
	if [ $# -gt 1 ] && [ "$what" != image ]; then
		for what in "$@"; do main "$what"; done
		return
	fi
	case "$what" in
	ship | data | fake | browser | browser-full | all | bases | bay | postgres) ;;
	image)
		shift
		build_named "$@"
		return
		;;
	*) die "usage: $0 ship|data|fake|browser|browser-full|all|bay|postgres... | image NAME..." ;;
	esac
	command -v go >/dev/null || die "go toolchain not found on PATH"
	ensure_docker
	local start
	start=$(date +%s)
	case "$what" in
	ship) ship_image ship "$PKGS_COMMON" ship:latest ;;
	data) ship_image data "$PKGS_DATA" ship:data ;;
	fake) fake_image ;;
	browser) browser_image browser "$PKGS_BROWSER" bay-browser:latest ;;
	browser-full) browser_image browser-full "$PKGS_BROWSER_FULL" bay-browser:full ;;
	bay) bay_image ;;
	postgres) postgres_image ;;
	bases)
		build_base ship "$PKGS_COMMON" >/dev/null
		build_base data "$PKGS_DATA" >/dev/null
		build_base browser "$PKGS_BROWSER" browser-base >/dev/null
		;;
	all)
		fake_image
		ship_image ship "$PKGS_COMMON" ship:latest
		ship_image data "$PKGS_DATA" ship:data
		browser_image browser "$PKGS_BROWSER" bay-browser:latest
		;;
	esac
	log "done: $what in $(($(date +%s) - start)) s"
}

main "$@"
