#!/usr/bin/env bash
# Builds the project's Dockerfile, unchanged, from the committed tree (HEAD), both of its targets,
# `slim` (the default) and `full` (Python with Gymnasium, the bridge on), and the example derived
# from `full` (examples/docker/Dockerfile.lab), and tests the images: their configuration, their
# file systems, and the servers they run, started from each image's own ENTRYPOINT and CMD as its
# own USER.
#
#   scripts/image/test-image.sh        (as root, from anywhere in the repository; `make test-image`)
#
# Builder: `docker build` when a Docker engine answers and has or can pull the base images, else
# `buildah bud --isolation chroot --pull=never` (no engine needed). Base images: the ones the
# Dockerfile names, from local storage, else pulled; where they cannot be pulled (no registry
# reachable), stand-ins are built once under the official names and kept in local storage:
#   debian:bookworm-slim     debootstrap --variant=minbase bookworm, trimmed and configured as the
#                            official slim image is;
#   swift:<version>-bookworm that, plus the official image's packages (swift-bookworm.Containerfile
#                            beside this script), with this machine's toolchain and Swift package
#                            mirror bind-mounted read-only under /mnt while building.
# Python packages (buildah): a wheelhouse on this machine (WHEELHOUSE, kept between runs) holds the
# wheels of requirements-full.txt and of the example's requirements, downloaded by this machine's
# pip once; builds install from it offline (mounted read-only at /mnt/wheels, --build-arg
# WHEELS=/mnt/wheels), since inside a build PyPI may be out of reach (here: TLS to it is
# intercepted by a proxy whose CA only this machine trusts).
# The targets: `slim` is built first (the Swift compile), then `full` on its layers (`--layers`;
# the layers this run made are removed at the end unless LAYERS=1), then `full` once more with
# --build-arg EXTRA_PIP (its last steps only), and the example on the `full` image.
# Running without a container runtime: the image's root file system is mounted (buildah mount) and
# the entrypoint runs chrooted in it (nsenter --root) as the image's user, in new mount, PID and
# network namespaces, with /proc, a read-only /sys, a minimal /dev and a fresh directory on the
# image's volume, as an engine would set them up; the checks talk to it from outside the chroot.
# The `full` image's bridged environments are checked by check_full.py (beside this script) with
# the project's .venv/bridge Python (else one made from the wheelhouse): Gymnasium in process is
# the reference.
#
# Environment: IMAGE (the slim image's tag, default localhost/gym-server:test; the others are
# IMAGE-full and IMAGE-lab); TARGETS (default "slim full lab": which to build and check; lab needs
# full); SOURCE=worktree builds the working tree (tracked and untracked files git does not ignore)
# instead of HEAD; LAYERS=1 keeps the build's layers and uses those of earlier runs (faster reruns;
# by default every run compiles anew); CHECK_ONLY=1 checks the images already in storage without
# building; WHEELHOUSE (default /var/cache/gym-server/wheels); REF_PYTHON (the reference Python,
# default .venv/bridge/bin/python); DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR.
# Installs with apt-get what it needs and is missing: buildah, debootstrap, ffmpeg (ffprobe),
# curl, jq, iproute2.
# The whole script is one block, read before it runs: editing the file during a run is harmless.
{
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(git -C "$HERE" rev-parse --show-toplevel)"
IMAGE="${IMAGE:-localhost/gym-server:test}"
FULL_IMAGE="${IMAGE}-full"
LAB_IMAGE="${IMAGE}-lab"
TARGETS=" ${TARGETS:-slim full lab} "
WHEELHOUSE="${WHEELHOUSE:-/var/cache/gym-server/wheels}"
LAB_DIR=examples/docker
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBIAN_SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
STAND_IN_LABEL="org.gym-server.stand-in"
SHUTDOWN_LIMIT=10 # seconds SIGTERM may take to stop the server, videos and manifests included
EPISODES=3        # monitored CartPole episodes; old gym's schedule films episodes 0 and 1

# ---- reporting -----------------------------------------------------------------------------
T0=$(date +%s%N)
STAGE="" STAGE_T0=0
TIMES=()
now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { printf '%d.%01d' $(($1 / 1000)) $((($1 % 1000) / 100)); }
end_stage() {
    if [ -n "$STAGE" ]; then
        local ms=$(($(now_ms) - STAGE_T0))
        TIMES+=("$(printf '%-28s %7ss' "$STAGE" "$(secs $ms)")")
        echo "--- $STAGE: $(secs $ms)s"
        STAGE=""
    fi
}
stage() {
    end_stage
    STAGE="$1" STAGE_T0=$(now_ms)
    echo "=== $1"
}
print_times() {
    end_stage
    local t
    echo "stage times:"
    for t in "${TIMES[@]}"; do echo "  $t"; done
    printf '  %-28s %7ss\n' total "$(secs $((($(date +%s%N) - T0) / 1000000)))"
}
fail() {
    echo "test-image: FAIL${STAGE:+ ($STAGE)}: $*" >&2
    exit 1
}
ok() { echo "  ok: $*"; }
wants() { [[ $TARGETS == *" $1 "* ]]; }

[ "$(id -u)" -eq 0 ] || fail "run as root (buildah's overlay storage, chroot and namespaces need it)"

# ---- cleanup -------------------------------------------------------------------------------
WORK="" LAUNCH_PID="" CONTAINERS=() BEFORE_BUILDS=""
# The images this run's builds made and tagged nothing (--layers' intermediate layers), unless
# LAYERS=1 keeps them for the next run.
remove_build_layers() {
    [ -n "$BEFORE_BUILDS" ] && [ "${LAYERS:-0}" != 1 ] || return 0
    local id removed=0
    while read -r id; do
        buildah rmi "$id" >/dev/null 2>&1 && removed=$((removed + 1))
    done < <(comm -13 <(echo "$BEFORE_BUILDS") <(buildah images -a --no-trunc --noheading --format '{{.ID}} {{.Name}}' |
        awk '$2 == "<none>" {print $1}' | sort))
    BEFORE_BUILDS=""
    [ $removed = 0 ] || echo "removed the $removed intermediate images of this run's builds (LAYERS=1 keeps them)"
}
cleanup() {
    local status=$?
    set +e
    if [ -n "$LAUNCH_PID" ] && kill -0 "$LAUNCH_PID" 2>/dev/null; then
        # The server is PID 1 of its own PID namespace: killing it ends everything in there.
        local pid
        pid=$(cat "/proc/$LAUNCH_PID/task/$LAUNCH_PID/children" 2>/dev/null)
        [ -n "$pid" ] && kill -KILL $pid 2>/dev/null
        kill -KILL "$LAUNCH_PID" 2>/dev/null
        wait "$LAUNCH_PID" 2>/dev/null
    fi
    local c
    for c in "${CONTAINERS[@]}"; do
        buildah umount "$c" >/dev/null 2>&1
        buildah rm "$c" >/dev/null 2>&1
    done
    remove_build_layers
    [ -n "$WORK" ] && rm -rf "$WORK"
    [ ${#TIMES[@]} -gt 0 ] || [ -n "$STAGE" ] && print_times
    if [ $status -eq 0 ]; then echo "test-image: PASS"; else echo "test-image: FAILED (exit $status)" >&2; fi
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
WORK="$(mktemp -d "${TMPDIR:-/var/tmp}/gym-image.XXXXXX")"

# ---- prerequisites -------------------------------------------------------------------------
stage prerequisites
ENGINE=buildah
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then ENGINE=docker; fi
need=()
command -v buildah >/dev/null || need+=(buildah)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v ffprobe >/dev/null || need+=(ffmpeg)
command -v curl >/dev/null || need+=(curl)
command -v jq >/dev/null || need+=(jq)
command -v ip >/dev/null || need+=(iproute2)
if wants full; then
    python3 -m venv --help >/dev/null 2>&1 || need+=(python3-venv)
    python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
fi
if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >"$WORK/apt.log" 2>&1 || { tail -20 "$WORK/apt.log"; fail "apt-get update failed"; }
    apt-get install -y -qq --no-install-recommends "${need[@]}" >>"$WORK/apt.log" 2>&1 ||
        { tail -20 "$WORK/apt.log"; fail "apt-get install ${need[*]} failed"; }
fi
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "builder: $ENGINE ($( [ $ENGINE = docker ] && docker version --format '{{.Server.Version}}' || buildah --version))"

# The committed tree, never the working tree (which may hold uncommitted edits).
COMMIT="$(git -C "$REPO" rev-parse --short HEAD)"
CONTEXT="$WORK/context"
mkdir -p "$CONTEXT"
if [ "${SOURCE:-HEAD}" = worktree ]; then
    (cd "$REPO" && git ls-files -z --cached --others --exclude-standard | xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
        tar -c --null -T - -f -) | tar -x -C "$CONTEXT"
    COMMIT="$COMMIT+worktree"
    echo "building the working tree of $REPO (SOURCE=worktree)"
else
    git -C "$REPO" archive --format=tar HEAD | tar -x -C "$CONTEXT"
    if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no)" ]; then
        echo "note: building HEAD ($COMMIT); uncommitted changes in $REPO are not in the image (SOURCE=worktree builds them)"
    else
        echo "building HEAD ($COMMIT)"
    fi
fi
[ -f "$CONTEXT/Dockerfile" ] || fail "$COMMIT has no Dockerfile"
for t in slim full; do
    if wants $t && ! grep -qiE "^FROM[[:space:]].*[[:space:]]AS[[:space:]]+${t}[[:space:]]*\$" "$CONTEXT/Dockerfile"; then
        fail "the Dockerfile of $COMMIT has no stage $t (TARGETS=\"$(echo $TARGETS)\"; SOURCE=worktree builds uncommitted files)"
    fi
done
if wants lab; then
    wants full || fail "TARGETS: lab is built on full"
    [ -f "$CONTEXT/$LAB_DIR/Dockerfile.lab" ] || fail "$COMMIT has no $LAB_DIR/Dockerfile.lab (SOURCE=worktree builds uncommitted files)"
fi

# ---- base images ---------------------------------------------------------------------------
# The images the Dockerfile's FROM lines name (ARG defaults expanded), fully qualified.
base_images() {
    local -A args=()
    local -A stages=()
    local line name value ref
    while read -r line; do
        case "$line" in
        ARG\ *=*)
            line="${line#ARG }"
            name="${line%%=*}" value="${line#*=}"
            value="${value%\"}" value="${value#\"}"
            args[$name]="$value"
            ;;
        FROM\ *)
            set -- $line
            ref="$2"
            if [ "${2#--platform}" != "$2" ]; then ref="$3"; fi
            for name in "${!args[@]}"; do ref="${ref//\$\{$name\}/${args[$name]}}" ref="${ref//\$$name/${args[$name]}}"; done
            [ "${ref#*\$}" = "$ref" ] || fail "cannot expand FROM $ref"
            if [ -z "${stages[$ref]:-}" ] && [ "$ref" != scratch ]; then
                case "$ref" in
                */*/*) ;;
                */*) ref="docker.io/$ref" ;;
                *) ref="docker.io/library/$ref" ;;
                esac
                case "$ref" in *:*) ;; *) ref="$ref:latest" ;; esac
                echo "$ref"
            fi
            if [[ ${line,,} == *" as "* ]]; then stages[${line##* }]=1; fi
            ;;
        esac
    done < <(sed -e 's/#.*//' "$CONTEXT/Dockerfile" | grep -E '^[[:space:]]*(ARG|FROM)[[:space:]]' | sed -e 's/^[[:space:]]*//')
}
mapfile -t BASES < <(base_images | awk '!seen[$0]++')
[ ${#BASES[@]} -gt 0 ] || fail "no base image found in the Dockerfile"

# The recipe of a stand-in, hashed: a stand-in built from an older recipe is rebuilt.
recipe_hash() {
    case "$1" in
    *debian:bookworm-slim) { declare -f make_debian_stand_in; echo "$DEBIAN_MIRROR $DEBIAN_SECURITY_MIRROR"; } | sha256sum | cut -c1-16 ;;
    *swift:*-bookworm) { cat "$HERE/swift-bookworm.Containerfile"; buildah inspect --type image --format '{{.FromImageID}}' docker.io/library/debian:bookworm-slim 2>/dev/null; echo "$TOOLCHAIN $PACKAGE_MIRROR"; } | sha256sum | cut -c1-16 ;;
    esac
}
stand_in_label() { buildah inspect --type image "$1" 2>/dev/null | jq -r --arg k "$STAND_IN_LABEL" '.Docker.config.Labels[$k] // .OCIv1.config.Labels[$k] // empty'; }

# The machine's Swift toolchain and package mirror, for the swift stand-in.
TOOLCHAIN="" PACKAGE_MIRROR=""
find_swift() {
    local swift
    swift="$(command -v swift)" || fail "no swift on PATH: the swift stand-in mounts this machine's toolchain"
    TOOLCHAIN="$(dirname "$(dirname "$(dirname "$(readlink -f "$swift")")")")"
    [ -x "$TOOLCHAIN/usr/bin/swift" ] || fail "cannot find the toolchain root of $swift (looked at $TOOLCHAIN)"
    PACKAGE_MIRROR="$(git config --system --get-regexp '^url\..*\.insteadof$' 'https://github.com/' | head -1 | sed -E 's/^url\.(.*)\.insteadof .*/\1/')"
    PACKAGE_MIRROR="${PACKAGE_MIRROR%/}"
    [ -n "$PACKAGE_MIRROR" ] && [ -d "$PACKAGE_MIRROR" ] ||
        fail "no Swift package mirror: the swift stand-in needs git's url.<mirror>.insteadOf https://github.com/ (as in /etc/gitconfig)"
}

# debian:bookworm-slim from Debian's packages: debootstrap's minbase, trimmed and configured as
# the official image is (debuerreotype's slim settings, deb822 sources with updates and security).
make_debian_stand_in() {
    local name=$1 ctr mnt
    stage "stand-in debian: debootstrap"
    ctr=$(buildah from scratch)
    CONTAINERS+=("$ctr")
    mnt=$(buildah mount "$ctr")
    [ -d "$mnt" ] && [ "$mnt" != / ] || fail "buildah mount gave no directory for the new image"
    debootstrap --variant=minbase bookworm "$mnt" "$DEBIAN_MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
        { tail -20 "$WORK/debootstrap.log"; fail "debootstrap failed (log above)"; }
    stage "stand-in debian: image"
    rm -rf "${mnt:?}"/var/cache/apt/archives/*.deb "${mnt:?}"/var/cache/apt/*.bin "${mnt:?}"/var/lib/apt/lists/* \
        "${mnt:?}"/var/log/*.log "${mnt:?}"/var/log/apt/* "${mnt:?}"/etc/apt/sources.list "${mnt:?}"/dev/* \
        "${mnt:?}"/etc/hostname "${mnt:?}"/etc/resolv.conf
    mkdir -p "$mnt/var/lib/apt/lists/partial"
    cat >"$mnt/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $DEBIAN_MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $DEBIAN_SECURITY_MIRROR
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    printf '%s\n' 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };' \
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };' \
        'Dir::Cache::pkgcache "";' 'Dir::Cache::srcpkgcache "";' >"$mnt/etc/apt/apt.conf.d/docker-clean"
    echo 'Acquire::Languages "none";' >"$mnt/etc/apt/apt.conf.d/docker-no-languages"
    echo 'Acquire::GzipIndexes "true";' >"$mnt/etc/apt/apt.conf.d/docker-gzip-indexes"
    echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$mnt/etc/apt/apt.conf.d/docker-autoremove-suggests"
    echo 'force-unsafe-io' >"$mnt/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
        'path-exclude /usr/share/groff/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/linda/*' \
        'path-exclude /usr/share/lintian/overrides/*' 'path-exclude /usr/share/locale/*' 'path-exclude /usr/share/man/*' \
        >"$mnt/etc/dpkg/dpkg.cfg.d/docker"
    # What those excludes would have kept out had they been there from the start.
    find "$mnt/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$mnt/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "${mnt:?}"/usr/share/groff/* "${mnt:?}"/usr/share/info/* "${mnt:?}"/usr/share/linda/* \
        "${mnt:?}"/usr/share/lintian/overrides/* "${mnt:?}"/usr/share/locale/* "${mnt:?}"/usr/share/man/*
    buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd bash \
        --label "$STAND_IN_LABEL=$(recipe_hash "$name")" \
        --label "org.opencontainers.image.description=stand-in for $name: debootstrap --variant=minbase bookworm" "$ctr"
    buildah commit --quiet --format docker --rm "$ctr" "$name" >/dev/null
    CONTAINERS=("${CONTAINERS[@]/$ctr/}")
}

# with_binds DIR NAME [DIR NAME]... -- COMMAND...: runs COMMAND with each DIR bound read-only at
# $WORK/mnt/NAME, in a mount namespace of its own (nothing to undo). Builds see that folder as
# /mnt (buildah bud --volume $WORK/mnt:/mnt:ro, bound recursively): /mnt because every Debian
# image has it, so no mount point is left in the images built.
with_binds() {
    local binds=()
    while [ "$1" != -- ]; do
        mkdir -p "$WORK/mnt/$2"
        binds+=("$1" "$2")
        shift 2
    done
    shift
    unshare --mount --propagation private /bin/bash -c 'set -e
        mnt=$1 n=$2
        shift 2
        while [ "$n" -gt 0 ]; do
            mount --bind "$1" "$mnt/$2" && mount -o remount,bind,ro "$mnt/$2"
            shift 2
            n=$((n - 1))
        done
        exec "$@"' with-binds "$WORK/mnt" $((${#binds[@]} / 2)) "${binds[@]}" "$@"
}
# The machine's toolchain and package mirror at $WORK/mnt/swift and $WORK/mnt/swift-packages.
with_toolchain() {
    find_swift
    with_binds "$TOOLCHAIN" swift "$PACKAGE_MIRROR" swift-packages -- "$@"
}

# swift:<version>-bookworm: the debian stand-in plus the official image's packages; the machine's
# toolchain and package mirror are mounted read-only at build time (swift-bookworm.Containerfile).
make_swift_stand_in() {
    local name=$1 version
    version="${name##*:}" version="${version%-bookworm}"
    find_swift
    local have
    have="$("$TOOLCHAIN/usr/bin/swift" --version 2>&1 | sed -nE 's/.*Swift version ([0-9.]+).*/\1/p' | head -1)"
    case "$have." in "$version".*) ;; *) fail "$name is wanted but this machine's toolchain is Swift $have ($TOOLCHAIN)" ;; esac
    stage "stand-in swift image"
    with_toolchain buildah bud --isolation chroot --pull=never --format docker --quiet --volume "$WORK/mnt:/mnt:ro" \
        --label "$STAND_IN_LABEL=$(recipe_hash "$name")" \
        --label "org.opencontainers.image.description=stand-in for $name: Swift $have from $TOOLCHAIN, mounted at /mnt/swift at build time" \
        -f "$HERE/swift-bookworm.Containerfile" -t "$name" "$WORK" >"$WORK/swift-stand-in.log" 2>&1 ||
        { tail -30 "$WORK/swift-stand-in.log"; fail "building the $name stand-in failed (log above)"; }
}

SWIFT_STAND_IN=0
REBUILT=()
# ensure_base NAME: NAME in the buildah storage, from there, pulled, or as a stand-in.
ensure_base() {
    local base=$1 label want
    if buildah inspect --type image "$base" >/dev/null 2>&1; then
        label="$(stand_in_label "$base")"
        if [ -z "$label" ]; then
            echo "base $base: in local storage"
            return
        fi
        if [[ $base == *swift:* ]]; then find_swift; fi
        want="$(recipe_hash "$base")"
        if [ "$label" = "$want" ] && ! { [[ $base == *swift:* ]] && [ ${#REBUILT[@]} -gt 0 ]; }; then
            echo "base $base: stand-in in local storage"
            if [[ $base == *swift:* ]]; then SWIFT_STAND_IN=1; fi
            return
        fi
        echo "base $base: stand-in from an older recipe, rebuilding"
    elif timeout 300 buildah pull -q "$base" >/dev/null 2>"$WORK/pull.log"; then
        echo "base $base: pulled"
        return
    else
        echo "base $base: not in local storage and cannot be pulled ($(tail -1 "$WORK/pull.log" | cut -c1-160))"
    fi
    case "$base" in
    docker.io/library/debian:bookworm-slim) make_debian_stand_in "$base" ;;
    docker.io/library/swift:*-bookworm) make_swift_stand_in "$base" ;;
    *) fail "no stand-in recipe for $base (this script knows debian:bookworm-slim and swift:<version>-bookworm)" ;;
    esac
    echo "base $base: stand-in built"
    REBUILT+=("$base")
    if [[ $base == *swift:* ]]; then SWIFT_STAND_IN=1; fi
    return 0
}

# A Docker engine builds only if it has (or can pull) every base image: stand-ins need
# build-time mounts, which docker build lacks, so without them buildah builds.
if [ "${CHECK_ONLY:-0}" = 1 ]; then
    ENGINE=none
elif [ $ENGINE = docker ]; then
    for base in "${BASES[@]}"; do
        if ! docker image inspect "$base" >/dev/null 2>&1 && ! timeout 300 docker pull -q "$base" >/dev/null 2>&1; then
            echo "docker cannot get $base: building with buildah and stand-ins instead"
            ENGINE=buildah
            break
        fi
    done
fi
if [ $ENGINE = buildah ]; then
    stage "base images"
    for base in "${BASES[@]}"; do if [[ $base == *library/debian:* ]]; then ensure_base "$base"; fi; done
    for base in "${BASES[@]}"; do if [[ $base != *library/debian:* ]]; then ensure_base "$base"; fi; done
fi

# ---- Python wheels -------------------------------------------------------------------------
# The wheels of what the builds install with pip, downloaded by this machine's pip into
# WHEELHOUSE once (for the image's Python: CPython 3.11, glibc 2.36), then found there offline.
FULL_REQS="$CONTEXT/scripts/image/requirements-full.txt"
LAB_REQS="$CONTEXT/$LAB_DIR/requirements.txt"
USE_WHEELS=0
if [ $ENGINE = buildah ] && wants full; then
    stage wheelhouse
    USE_WHEELS=1
    mkdir -p "$WHEELHOUSE"
    wheel_reqs=(-r "$FULL_REQS")
    if wants lab; then wheel_reqs+=(-r "$LAB_REQS" -c "$FULL_REQS"); fi
    arch="$(uname -m)"
    pip_download=(python3 -m pip download --disable-pip-version-check --quiet --dest "$WHEELHOUSE" --only-binary=:all:
        --implementation cp --python-version 3.11 --abi cp311 --platform "manylinux2014_$arch")
    for v in $(seq 36 -1 17); do pip_download+=(--platform "manylinux_2_${v}_$arch"); done
    if "${pip_download[@]}" --no-index --find-links "$WHEELHOUSE" "${wheel_reqs[@]}" >"$WORK/wheels.log" 2>&1; then
        echo "wheelhouse $WHEELHOUSE: every wheel already there"
    else
        echo "wheelhouse $WHEELHOUSE: downloading what is missing from PyPI"
        "${pip_download[@]}" --find-links "$WHEELHOUSE" "${wheel_reqs[@]}" >"$WORK/wheels.log" 2>&1 ||
            { tail -20 "$WORK/wheels.log"; fail "pip download into $WHEELHOUSE failed (log above)"; }
    fi
    echo "wheelhouse: $(find "$WHEELHOUSE" -maxdepth 1 -name '*.whl' | wc -l) wheels, $(du -sh "$WHEELHOUSE" | cut -f1); mounted read-only at /mnt/wheels while building"
fi

# site_packages_match SITE LOCK [EXTRA-PINS...]: the virtualenv's packages are exactly LOCK's (and
# EXTRA-PINS, name==version), pip and setuptools (the virtualenv's own) aside.
site_packages_match() {
    python3 - "$@" <<'PY'
import os, re, sys
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
site, lock, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
got = {}
for entry in os.listdir(site):
    if entry.endswith(".dist-info"):
        name, version = entry[: -len(".dist-info")].rsplit("-", 1)
        got[norm(name)] = version
want = {}
for line in [l.split("#")[0].strip() for l in open(lock)] + extra:
    if line:
        name, version = line.split("==")
        want[norm(name)] = version
for own in ("pip", "setuptools"):
    got.pop(own, None)
if got != want:
    missing = sorted(f"{n}=={v}" for n, v in want.items() if got.get(n) != v)
    unwanted = sorted(f"{n}=={v}" for n, v in got.items() if want.get(n) != v)
    sys.exit(f"the virtualenv differs from the pins: missing {missing or 'nothing'}, not pinned {unwanted or 'nothing'}")
print(len(got))
PY
}

# ---- the Dockerfile ------------------------------------------------------------------------
SLIM_ID="" FULL_ID="" LAB_ID=""
image_id() { buildah inspect --type image --format '{{.FromImageID}}' "$1" 2>/dev/null; }
if [ $ENGINE = none ]; then
    for t in slim full lab; do
        wants $t || continue
        case $t in slim) tag=$IMAGE ;; full) tag=$FULL_IMAGE ;; lab) tag=$LAB_IMAGE ;; esac
        id="$(image_id "$tag")" || fail "CHECK_ONLY=1: no image $tag to check"
        case $t in slim) SLIM_ID=$id ;; full) FULL_ID=$id ;; lab) LAB_ID=$id ;; esac
        echo "CHECK_ONLY=1: checking $tag (${id:0:12}) as it is, without building"
    done
else
# Prints the builder's steps with the seconds since the build started; the full log is kept.
steps() {
    local t0 line
    t0=$(date +%s)
    while IFS= read -r line; do
        echo "$line" >>"$WORK/build.log"
        case "$line" in *STEP\ [0-9]*/[0-9]*:* | \#[0-9]*\ \[*) echo "  [$(($(date +%s) - t0))s] ${line:0:110}" ;; esac
    done
}
BEFORE_BUILDS="$(buildah images -a -q --no-trunc | sort)"
binds=() mount_note=""
build_args=(--isolation chroot --pull=never --format docker --volume "$WORK/mnt:/mnt:ro")
mkdir -p "$WORK/mnt"
if [ $ENGINE = buildah ]; then
    if [ $SWIFT_STAND_IN = 1 ]; then
        find_swift
        binds+=("$TOOLCHAIN" swift "$PACKAGE_MIRROR" swift-packages)
        mount_note="the swift stand-in's toolchain ($TOOLCHAIN) and package mirror ($PACKAGE_MIRROR) are mounted read-only at /mnt"
    fi
    if [ $USE_WHEELS = 1 ]; then
        binds+=("$WHEELHOUSE" wheels)
        build_args+=(--build-arg WHEELS=/mnt/wheels)
    fi
fi
# build TARGET-NAME TAG [ARGUMENTS...]: builds TAG, removes the image it replaces, prints its id.
build() {
    local name=$1 tag=$2 old id
    shift 2
    old="$(image_id "$tag" || true)"
    : >"$WORK/build.log"
    if [ $ENGINE = docker ]; then
        docker build -t "$tag" "$@" 2>&1 | steps >&2 || { tail -40 "$WORK/build.log" >&2; fail "docker build of $name failed (log above)"; }
        # The checks read the image from buildah's storage.
        id="$(buildah pull -q "docker-daemon:$tag")" || fail "cannot copy $tag from docker into buildah's storage"
    else
        with_binds "${binds[@]}" -- buildah bud "${build_args[@]}" -t "$tag" "$@" 2>&1 | steps >&2 ||
            { tail -40 "$WORK/build.log" >&2; fail "buildah bud of $name failed (log above)"; }
        id="$(image_id "$tag")"
    fi
    if [ -n "$old" ] && [ "$old" != "$id" ]; then buildah rmi "$old" >/dev/null 2>&1 || true; fi
    echo "$id"
}
# The targets share their stages: the first build compiles (anew, unless LAYERS=1), the second
# takes its layers (--layers). --jobs 2: the runtime stage's apt-get runs while the Swift build
# compiles.
layer_args=(--jobs 2)
if [ "${LAYERS:-0}" = 1 ]; then
    layer_args+=(--layers)
elif wants slim && wants full; then
    layer_args+=(--layers --no-cache)
fi
for t in slim full; do
    wants $t || continue
    stage "build $t"
    if [ -n "$mount_note" ]; then
        echo "$mount_note"
        mount_note=""
    fi
    case $t in slim) tag=$IMAGE ;; full) tag=$FULL_IMAGE ;; esac
    if [ $ENGINE = docker ]; then
        id="$(build "$t" "$tag" --target "$t" -f "$CONTEXT/Dockerfile" "$CONTEXT")"
    else
        id="$(build "$t" "$tag" "${layer_args[@]}" --target "$t" -f "$CONTEXT/Dockerfile" "$CONTEXT")"
        kept=()
        for arg in "${layer_args[@]}"; do [ "$arg" = --no-cache ] || kept+=("$arg"); done
        layer_args=("${kept[@]}")
    fi
    case $t in slim) SLIM_ID=$id ;; full) FULL_ID=$id ;; esac
    echo "built $tag (target $t, ${id:0:12}) from HEAD ($COMMIT)"
done
# EXTRA_PIP: `full` once more with the lab's requirements as the build argument, on the layers
# just made (only its last steps run), checked and removed.
if [ $ENGINE = buildah ] && wants full && wants lab && [[ " ${layer_args[*]} " == *" --layers "* ]]; then
    stage "build full EXTRA_PIP"
    extra="$(grep -vE '^(#|$)' "$LAB_REQS" | paste -sd' ')"
    id="$(build "full with EXTRA_PIP" "$IMAGE-extra" "${layer_args[@]}" --target full --build-arg EXTRA_PIP="$extra" \
        -f "$CONTEXT/Dockerfile" "$CONTEXT")"
    ctr="$(buildah from --pull=never --quiet "$id")"
    CONTAINERS+=("$ctr")
    site=("$(buildah mount "$ctr")"/opt/gym/lib/python3*/site-packages)
    # shellcheck disable=SC2086 # one argument per pin
    count="$(site_packages_match "${site[0]}" "$FULL_REQS" $extra)" || fail "--build-arg EXTRA_PIP=\"$extra\": see above"
    ok "--build-arg EXTRA_PIP=\"$extra\": /opt/gym holds $count packages, requirements-full.txt's and $extra"
    buildah umount "$ctr" >/dev/null && buildah rm "$ctr" >/dev/null && CONTAINERS=("${CONTAINERS[@]/$ctr/}")
    buildah rmi "$IMAGE-extra" >/dev/null
fi
if wants lab; then
    stage "build lab example"
    LAB_ID="$(build lab "$LAB_IMAGE" --build-arg BASE="$FULL_IMAGE" -f "$CONTEXT/$LAB_DIR/Dockerfile.lab" "$CONTEXT/$LAB_DIR")"
    echo "built $LAB_IMAGE (${LAB_ID:0:12}) from $LAB_DIR/Dockerfile.lab on $FULL_IMAGE"
fi
remove_build_layers
fi

# ---- checks --------------------------------------------------------------------------------
SIZES=()
# open_image ID NAME: reads the image's configuration (what `docker run` would take from it),
# mounts its root file system at ROOT and checks what every target must have: an unprivileged
# USER, both ports, the volume, the entrypoint, nothing of the build stage.
open_image() {
    IMAGE_ID=$1 IMAGE_NAME=$2
    CONFIG="$(buildah inspect --type image "$IMAGE_ID" | jq '.Docker.config // .OCIv1.config')"
    cfg() { jq -r "$1" <<<"$CONFIG"; }

    # Configuration: what `docker run` would take from the image.
    USER_SPEC="$(cfg '.User // ""')"
    cfg_list() { jq -j "$1 | .[] | (., \"\\u0000\")" <<<"$CONFIG"; } # NUL-separated: items may hold newlines
    mapfile -d '' -t ARGV < <(cfg_list '(.Entrypoint // []) + (.Cmd // [])')
    mapfile -d '' -t IMAGE_ENV < <(cfg_list '.Env // []')
    WORKDIR="$(cfg '.WorkingDir // ""')"
    mapfile -d '' -t HEALTHCHECK < <(cfg_list '.Healthcheck.Test // []')
    HEALTHCHECK_TIMEOUT=$(($(cfg '.Healthcheck.Timeout // 0') / 1000000000))
    [ "$HEALTHCHECK_TIMEOUT" -gt 0 ] || HEALTHCHECK_TIMEOUT=30
    echo "  user: ${USER_SPEC:-(none)}; ports: $(cfg '.ExposedPorts // {} | keys | join(" ")'); volumes: $(cfg '.Volumes // {} | keys | join(" ")')"
    echo "  entrypoint + cmd: ${ARGV[*]}"
    echo "  healthcheck: ${HEALTHCHECK[*]:-(none)}"
    [ -n "$USER_SPEC" ] || fail "the image has no USER: it would run as root"
    case "${USER_SPEC%%:*}" in root | 0) fail "the image's USER is root ($USER_SPEC)" ;; esac
    for port in 5000/tcp 8000/tcp; do
        cfg '.ExposedPorts // {} | keys[]' | grep -qx "$port" || fail "the image does not EXPOSE $port"
    done
    VOLUME_PATH=/monitor
    cfg '.Volumes // {} | keys[]' | grep -qx "$VOLUME_PATH" || fail "the image has no VOLUME $VOLUME_PATH"
    [ ${#ARGV[@]} -gt 0 ] || fail "the image has neither ENTRYPOINT nor CMD"
    ok "configuration: an unprivileged USER, EXPOSE 5000 and 8000, VOLUME $VOLUME_PATH"

    # The image's root file system.
    CTR="$(buildah from --pull=never --quiet "$IMAGE_ID")"
    CONTAINERS+=("$CTR")
    ROOT="$(buildah mount "$CTR")"
    [ -x "$ROOT${ARGV[0]}" ] || fail "the entrypoint ${ARGV[0]} is not an executable in the image"
    SIZE="$(buildah images --noheading --format '{{.ID}} {{.Size}}' | awk -v id="${IMAGE_ID:0:12}" '$1 == id {print $2, $3}')"
    echo "  image size: $SIZE ($(du -sxh "$ROOT" | cut -f1) unpacked, of which the entrypoint ${ARGV[0]}: $(du -h "$ROOT${ARGV[0]}" | cut -f1))"
    SIZES+=("$IMAGE_NAME $SIZE ($(du -sxh "$ROOT" | cut -f1) unpacked)")

    # Nothing of the build stage: no compiler, no Swift toolchain or runtime libraries, no sources.
    found="$(find "$ROOT" -xdev \( -path "$ROOT/usr/share/doc" -o -path "$ROOT/var/lib/dpkg" \) -prune -o \
        \( -type f -perm /111 -o -type l \) \( -name cc -o -name c++ -o -name gcc -o -name 'gcc-[0-9]*' -o -name g++ \
        -o -name 'g++-[0-9]*' -o -name '*-linux-gnu-gcc*' -o -name cc1 -o -name clang -o -name 'clang-[0-9]*' -o -name 'clang++' \
        -o -name swift -o -name swiftc -o -name swift-frontend -o -name swift-driver -o -name swift-build \) -printf '/%P\n' -o \
        \( -name 'libswift*.so*' -o -name '*.swift' -o -name '*.swiftmodule' -o -name Package.swift \) -printf '/%P\n' | head -20)"
    [ -z "$found" ] || fail "the image holds build tools or sources:"$'\n'"$found"
    for dir in /opt/swift /usr/lib/swift /usr/lib/swift_static /src /out /.build; do
        [ ! -e "$ROOT$dir" ] || fail "the image holds $dir"
    done
    [ -z "$(ls -A "$ROOT/mnt" 2>/dev/null)" ] || fail "the image's /mnt is not empty: $(ls -A "$ROOT/mnt")"
    ok "no compiler (cc, gcc, clang, swift, swiftc), no Swift toolchain or runtime libraries, no sources (/src, *.swift)"

    # The image's user, as the image's /etc/passwd and /etc/group define it.
    user_part="${USER_SPEC%%:*}" group_part=""
    [ "$USER_SPEC" != "$user_part" ] && group_part="${USER_SPEC#*:}"
    if [[ $user_part =~ ^[0-9]+$ ]]; then
        RUN_UID=$user_part
        pw="$(awk -F: -v u="$user_part" '$3 == u' "$ROOT/etc/passwd" | head -1)"
    else
        pw="$(awk -F: -v u="$user_part" '$1 == u' "$ROOT/etc/passwd" | head -1)"
        [ -n "$pw" ] || fail "USER $user_part is not in the image's /etc/passwd"
        RUN_UID="$(cut -d: -f3 <<<"$pw")"
    fi
    if [ -z "$group_part" ]; then
        RUN_GID="$(cut -d: -f4 <<<"$pw")"
        [ -n "$RUN_GID" ] || RUN_GID=$RUN_UID
    elif [[ $group_part =~ ^[0-9]+$ ]]; then
        RUN_GID=$group_part
    else
        RUN_GID="$(awk -F: -v g="$group_part" '$1 == g {print $3}' "$ROOT/etc/group" | head -1)"
        [ -n "$RUN_GID" ] || fail "group $group_part is not in the image's /etc/group"
    fi
    RUN_HOME="$(cut -d: -f6 <<<"$pw")"
    [ "$RUN_UID" -ne 0 ] || fail "the image's USER $USER_SPEC is uid 0"
    printf '%s\n' "${IMAGE_ENV[@]}" | grep -q '^PATH=' || IMAGE_ENV+=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
    printf '%s\n' "${IMAGE_ENV[@]}" | grep -q '^HOME=' || IMAGE_ENV+=("HOME=${RUN_HOME:-/}")
}

# What a container engine sets up, done by hand: new mount, PID and network namespaces (the
# command is PID 1, as in a container), /proc, a read-only /sys, a minimal /dev, the volume, then
# the image's root, working directory and user. Arguments: root volume-dir volume-path uid gid
# workdir command...
IN_IMAGE='set -eu
root=$1 vol=$2 volpath=$3 uid=$4 gid=$5 wd=${6:-/}
shift 6
ip link set lo up
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
mount -t tmpfs -o nosuid,mode=755,size=64m tmpfs "$root/dev"
mknod -m 666 "$root/dev/null" c 1 3
mknod -m 666 "$root/dev/zero" c 1 5
mknod -m 666 "$root/dev/full" c 1 7
mknod -m 666 "$root/dev/random" c 1 8
mknod -m 666 "$root/dev/urandom" c 1 9
mknod -m 666 "$root/dev/tty" c 5 0
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mkdir "$root/dev/shm"
mount -t tmpfs -o nosuid,nodev,noexec,mode=1777,size=64m shm "$root/dev/shm"
if [ -n "$vol" ]; then
    mkdir -p "$root$volpath"
    mount --bind "$vol" "$root$volpath"
fi
exec nsenter --root="$root" --wd="$root$wd" --setuid="$uid" --setgid="$gid" -- "$@"'
# start_in_image LOG VOLUME-DIR COMMAND...: in the background; LAUNCH_PID is unshare, whose one
# child is COMMAND's process once it has started.
start_in_image() {
    local log=$1 vol=$2
    shift 2
    env -i "${IMAGE_ENV[@]}" unshare --mount --pid --net --fork --mount-proc --propagation private \
        /bin/bash -c "$IN_IMAGE" in-image "$ROOT" "$vol" "$VOLUME_PATH" "$RUN_UID" "$RUN_GID" "$WORKDIR" "$@" \
        </dev/null >"$log" 2>&1 &
    LAUNCH_PID=$!
}
# The image's HEALTHCHECK command as an engine runs it: inside the container, as its user.
healthcheck_argv() {
    case "${HEALTHCHECK[0]}" in
    CMD) printf '%s\0' "${HEALTHCHECK[@]:1}" ;;
    CMD-SHELL) printf '%s\0' /bin/sh -c "${HEALTHCHECK[1]}" ;;
    *) fail "unknown HEALTHCHECK form: ${HEALTHCHECK[*]}" ;;
    esac
}
inns() { nsenter --net="/proc/$SPID/ns/net" "$@"; }
server_failed() { echo "--- server output:"; tail -30 "$SERVER_LOG"; fail "$@"; }

# start_server NAME [READY-SECONDS]: the image's ENTRYPOINT and CMD as a container engine starts
# them, on a fresh volume VOL; waits until both ports answer; checks the ports and the user.
start_server() {
    local ready_limit=${2:-30}
    VOL="$WORK/volume-$1"
    mkdir -m 755 "$VOL"
    chown "$RUN_UID:$RUN_GID" "$VOL"
    SERVER_LOG="$WORK/server-$1.log"
    start_in_image "$SERVER_LOG" "$VOL" "${ARGV[@]}"
    SPID=""
    for _ in $(seq 100); do
        SPID="$(cat "/proc/$LAUNCH_PID/task/$LAUNCH_PID/children" 2>/dev/null | awk '{print $1}')" || true
        [ -n "$SPID" ] && [ "$(readlink "/proc/$SPID/exe" 2>/dev/null)" = "$ROOT${ARGV[0]}" ] && break
        kill -0 "$LAUNCH_PID" 2>/dev/null || { cat "$SERVER_LOG"; fail "the container's command exited at once (output above)"; }
        sleep 0.1
    done
    [ "$(readlink "/proc/$SPID/exe" 2>/dev/null)" = "$ROOT${ARGV[0]}" ] || { cat "$SERVER_LOG"; fail "the entrypoint did not start"; }
    ready=0
    for _ in $(seq $((ready_limit * 5))); do
        kill -0 "$SPID" 2>/dev/null || server_failed "the server exited before answering"
        if inns curl -s -o /dev/null --max-time 2 http://127.0.0.1:5000/v1/envs/ &&
            inns curl -s -o /dev/null --max-time 2 http://127.0.0.1:8000/; then
            ready=1
            break
        fi
        sleep 0.2
    done
    [ $ready = 1 ] || server_failed "the API (:5000) and the files port (:8000) did not both answer within $ready_limit s"
    ok "the server answers on :5000 and :8000 (PID 1 of its namespace, host pid $SPID)"

    listening="$(inns ss -Hltn | awk '{print $4}')"
    for port in 5000 8000; do
        grep -Eqx "(0\.0\.0\.0|\*|\[::\]):$port" <<<"$listening" ||
            server_failed "nothing listens on all addresses on port $port (listening: $(echo $listening)); docker run -p needs that"
    done
    ok "both ports listen on all addresses ($(echo $listening))"

    read -r _ ruid euid suid fsuid < <(grep '^Uid:' "/proc/$SPID/status")
    read -r _ rgid egid sgid fsgid < <(grep '^Gid:' "/proc/$SPID/status")
    capeff="$(awk '/^CapEff:/ {print $2}' "/proc/$SPID/status")"
    for id in $ruid $euid $suid $fsuid; do [ "$id" = "$RUN_UID" ] || server_failed "the server runs as uid $ruid/$euid/$suid/$fsuid, not $RUN_UID"; done
    for id in $rgid $egid $sgid $fsgid; do [ "$id" = "$RUN_GID" ] || server_failed "the server runs as gid $rgid/$egid/$sgid/$fsgid, not $RUN_GID"; done
    [ "$capeff" = 0000000000000000 ] || server_failed "the server has capabilities ($capeff)"
    ok "the server runs as $USER_SPEC (uid $RUN_UID, gid $RUN_GID), with no capabilities"
}

# api METHOD PATH [JSON]: the answer's body; any status but 2xx fails.
api() {
    local out
    if ! out="$(inns curl -sS --max-time 20 --fail-with-body -X "$1" -H 'Content-Type: application/json' \
        ${3:+--data "$3"} "http://127.0.0.1:5000$2" 2>&1)"; then
        echo "$1 $2 ${3:-} -> $out" >&2
        return 1
    fi
    printf '%s' "$out"
}
# run_episode ID: steps with random actions until done; prints the episode's length.
run_episode() {
    local n=0 done=false answer
    answer="$(api POST "/v1/envs/$1/reset/" '{}')" || return 1
    while [ "$done" != true ]; do
        answer="$(api POST "/v1/envs/$1/step/" "{\"action\": $((RANDOM % 2))}")" || return 1
        done="$(jq -r .done <<<"$answer")"
        n=$((n + 1))
        [ $n -le 500 ] || { echo "CartPole-v1 ran past its 500-step limit" >&2; return 1; }
    done
    echo $n
}
# frames FILE: codec, pixel format and decoded frame count of the first video stream.
frames() {
    ffprobe -v error -select_streams v:0 -count_frames -show_entries stream=codec_name,pix_fmt,nb_read_frames \
        -of default=noprint_wrappers=1:nokey=1 "$1" | paste -sd' '
}
# check_video FILE FRAMES
check_video() {
    local got
    got="$(frames "$1")" || server_failed "ffprobe cannot read $(basename "$1")"
    [ "$got" = "h264 yuv420p $2" ] || server_failed "$(basename "$1"): codec, pixel format, frames = $got; want h264 yuv420p $2"
}

# The image's HEALTHCHECK, run inside the container as its user while the server runs, passes.
healthcheck_passes() {
    if [ ${#HEALTHCHECK[@]} -gt 0 ] && [ "${HEALTHCHECK[0]}" != NONE ]; then
        mapfile -d '' -t hc < <(healthcheck_argv)
        t=$(now_ms)
        code=0
        env -i "${IMAGE_ENV[@]}" timeout "$HEALTHCHECK_TIMEOUT" nsenter --target "$SPID" --mount --net --pid --root --wd \
            --setuid="$RUN_UID" --setgid="$RUN_GID" -- "${hc[@]}" >"$WORK/healthcheck.log" 2>&1 || code=$?
        if [ $code != 0 ]; then
            cat "$WORK/healthcheck.log"
            server_failed "the HEALTHCHECK (${hc[*]}) fails while the server runs (exit $code; 124: timed out after ${HEALTHCHECK_TIMEOUT}s)"
        fi
        ok "the HEALTHCHECK (${hc[*]}) passes while the server runs ($(secs $(($(now_ms) - t)))s)"
    fi
}
# SIGTERM stops the server within SHUTDOWN_LIMIT seconds with exit 0 (STOP_MS: how long it took).
stop_with_sigterm() {
    t=$(now_ms)
    kill -TERM "$SPID"
    stopped=0
    for _ in $(seq $((SHUTDOWN_LIMIT * 20))); do
        kill -0 "$LAUNCH_PID" 2>/dev/null || { stopped=1; break; }
        sleep 0.05
    done
    STOP_MS=$(($(now_ms) - t))
    [ $stopped = 1 ] || server_failed "SIGTERM did not stop the server within $SHUTDOWN_LIMIT s"
    code=0
    wait "$LAUNCH_PID" || code=$?
    LAUNCH_PID=""
    [ $code = 0 ] || server_failed "the server exited with status $code after SIGTERM"
}

# The slim target: CartPole episodes with the monitor, the files port, /healthz and /metrics, SIGTERM
# in the middle of a filmed episode, the HEALTHCHECK without a server, the binary without /proc.
check_slim_server() {
    iid="$(api POST /v1/envs/ '{"env_id": "CartPole-v1", "seed": 42}' | jq -r .instance_id)" || server_failed "cannot create CartPole-v1"
    api POST "/v1/envs/$iid/monitor/start/" '{}' >/dev/null || server_failed "monitor/start failed"
    lengths=()
    for _ in $(seq $EPISODES); do
        n="$(run_episode "$iid")" || server_failed "an episode failed"
        lengths+=("$n")
    done
    api POST "/v1/envs/$iid/monitor/close/" >/dev/null || server_failed "monitor/close failed"
    ok "CartPole-v1 $iid: $EPISODES monitored episodes of ${lengths[*]} steps"

    sim="$VOL/$iid/simulation"
    [ -d "$sim" ] || server_failed "the monitor wrote nothing under the volume ($iid/simulation missing)"
    manifests=("$sim"/openaigym.manifest.*.manifest.json)
    [ ${#manifests[@]} = 1 ] && [ -f "${manifests[0]}" ] || server_failed "want one manifest in $iid/simulation, found: $(ls "$sim")"
    stats="$sim/$(jq -r .stats "${manifests[0]}")"
    [ -f "$stats" ] || server_failed "the manifest's stats file is missing"
    [ "$(jq -c .episode_lengths "$stats")" = "[$(IFS=,; echo "${lengths[*]}")]" ] ||
        server_failed "stats episode_lengths $(jq -c .episode_lengths "$stats"), want [${lengths[*]}]"
    leftovers="$(find "$VOL" -type f \( -name '*.tmp' -o -name '.*' \) ! -name .openaigym.lock)"
    [ -z "$leftovers" ] || server_failed "temporary files left: $leftovers"
    others="$(find "$VOL" -mindepth 1 \! -uid "$RUN_UID" -printf '%P (uid %U)\n' | head -5)"
    [ -z "$others" ] || server_failed "files not owned by the image's user: $others"
    videos=()
    for ep in 0 1; do # old gym's schedule: 0, 1, 8, 27, ...
        video=("$sim"/openaigym.video.*.video00000"$ep".mp4)
        [ -f "${video[0]}" ] || server_failed "no video of episode $ep: $(ls "$sim")"
        check_video "${video[0]}" $((lengths[ep] + 1))
        videos+=("${video[0]}")
    done
    [ "$(find "$sim" -name '*.mp4' | wc -l)" = 2 ] || server_failed "want the videos of episodes 0 and 1 only: $(ls "$sim")"
    ok "the volume holds the manifest, stats of ${lengths[*]} steps, and H.264 videos of $((lengths[0] + 1)) and $((lengths[1] + 1)) frames, owned by uid $RUN_UID"

    listing="$(inns curl -sS --fail --max-time 10 "http://127.0.0.1:8000/$iid/simulation/?format=json")" ||
        server_failed "the files port does not list $iid/simulation/"
    name="$(basename "${videos[0]}")"
    jq -e --arg n "$name" '[.entries[].name] | index($n)' <<<"$listing" >/dev/null || server_failed "the files port's listing lacks $name"
    inns curl -sS --fail --max-time 20 -o "$WORK/served.mp4" "http://127.0.0.1:8000/$iid/simulation/$name" ||
        server_failed "the files port does not serve $name"
    cmp -s "$WORK/served.mp4" "${videos[0]}" || server_failed "the files port served other bytes than the volume's $name"
    dashboard="$(inns curl -sS --fail --max-time 10 http://127.0.0.1:8000/)" || server_failed "the dashboard (:8000/) fails"
    grep -qi '<html' <<<"$dashboard" || server_failed "the dashboard (:8000/) is not HTML"
    ok "the files port lists and serves the volume's files, byte for byte, and the dashboard"

    healthcheck_passes
    health="$(inns curl -sS --fail --max-time 10 http://127.0.0.1:5000/healthz)" || server_failed "GET /healthz fails"
    jq -e '.status == "ok" and .files_port.state == "listening" and .recorder.healthy' <<<"$health" >/dev/null ||
        server_failed "GET /healthz: $health"
    metrics="$(inns curl -sS --fail --max-time 10 http://127.0.0.1:5000/metrics)" || server_failed "GET /metrics fails"
    sample() { awk -v s="$1" '$1 == s {print $2}' <<<"$metrics"; }
    total=0
    for n in "${lengths[@]}"; do total=$((total + n)); done
    [ "$(sample 'gym_steps_total{env_id="CartPole-v1"}')" = "$total" ] ||
        server_failed "/metrics: gym_steps_total is $(sample 'gym_steps_total{env_id="CartPole-v1"}'), want $total"
    [ "$(sample 'gym_episodes_total{env_id="CartPole-v1"}')" = "$EPISODES" ] || server_failed "/metrics: gym_episodes_total is not $EPISODES"
    encoded="$(sample gym_video_frames_encoded_total)"
    [ "$encoded" = $((lengths[0] + lengths[1] + 2)) ] || server_failed "/metrics: gym_video_frames_encoded_total is $encoded, want $((lengths[0] + lengths[1] + 2))"
    served="$(sample gym_files_bytes_served_total)"
    [ "${served:-0}" -gt "$(stat -c %s "${videos[0]}")" ] || server_failed "/metrics: gym_files_bytes_served_total is ${served:-none}"
    ok "GET /healthz: status ok, files port listening; GET /metrics: $total steps, $EPISODES episodes, $encoded video frames, $served bytes served"

    # SIGTERM while a monitor records, in the middle of a filmed episode.
    iid2="$(api POST /v1/envs/ '{"env_id": "CartPole-v1", "seed": 7}' | jq -r .instance_id)" || server_failed "cannot create CartPole-v1"
    api POST "/v1/envs/$iid2/monitor/start/" '{"directory": "sigterm", "force": true}' >/dev/null || server_failed "monitor/start failed"
    first="$(run_episode "$iid2")" || server_failed "an episode failed"
    api POST "/v1/envs/$iid2/reset/" '{}' >/dev/null || server_failed "reset failed"
    for _ in 1 2 3; do
        answer="$(api POST "/v1/envs/$iid2/step/" '{"action": 0}')" || server_failed "step failed"
        [ "$(jq -r .done <<<"$answer")" = false ] || server_failed "CartPole-v1 ended within 3 steps"
    done
    stop_with_sigterm
    stop_ms=$STOP_MS
    dir="$VOL/sigterm"
    leftovers="$(find "$VOL" -type f \( -name '*.tmp' -o -name '.*' \) ! -name .openaigym.lock)"
    [ -z "$leftovers" ] || server_failed "temporary files left after SIGTERM: $leftovers"
    manifests=("$dir"/openaigym.manifest.*.manifest.json)
    [ -f "${manifests[0]}" ] || server_failed "no manifest after SIGTERM: $(ls "$dir")"
    [ "$(jq -c .episode_lengths "$dir/$(jq -r .stats "${manifests[0]}")")" = "[$first]" ] || server_failed "the stats after SIGTERM do not hold the finished episode ($first steps)"
    video=("$dir"/openaigym.video.*.video000000.mp4)
    check_video "${video[0]}" $((first + 1))
    video=("$dir"/openaigym.video.*.video000001.mp4)
    [ -f "${video[0]}" ] || server_failed "the video of the episode open at SIGTERM is missing: $(ls "$dir")"
    check_video "${video[0]}" 4
    ok "SIGTERM stopped the server in $stop_ms ms, exit 0; manifest, stats, the finished video ($((first + 1)) frames) and the open one (4 frames) complete, no temporary file"

    if [ ${#HEALTHCHECK[@]} -gt 0 ] && [ "${HEALTHCHECK[0]}" != NONE ]; then
        # The same command must fail when no server runs, else it checks nothing.
        start_in_image "$WORK/healthcheck-down.log" "$VOL" "${hc[@]}"
        code=0
        wait "$LAUNCH_PID" || code=$?
        LAUNCH_PID=""
        [ $code != 0 ] || fail "the HEALTHCHECK (${hc[*]}) passes with no server running"
        ok "the HEALTHCHECK fails (exit $code) when no server runs"
    fi

    # Without /proc the statically linked binary cannot read its arguments: it must say so and stop,
    # not serve with every option ignored. (Its own network namespace: nothing of the host's is bound.)
    code=0
    env -i "${IMAGE_ENV[@]}" timeout 20 unshare --mount --pid --net --fork --propagation private \
        chroot --userspec="$RUN_UID:$RUN_GID" "$ROOT" "${ARGV[@]}" >"$WORK/no-proc.log" 2>&1 || code=$?
    [ $code != 0 ] && [ $code != 124 ] || { cat "$WORK/no-proc.log"; fail "without /proc the entrypoint did not stop at once (exit $code)"; }
    grep -q "cannot read its arguments" "$WORK/no-proc.log" || { cat "$WORK/no-proc.log"; fail "without /proc the entrypoint gave no reason"; }
    ok "without /proc the entrypoint stops with exit $code: $(head -1 "$WORK/no-proc.log")"
}

image_env() { printf '%s\n' "${IMAGE_ENV[@]}" | sed -n "s/^$1=//p"; }

# The full target's files: the virtualenv holds exactly requirements-full.txt; the bridge is on;
# MuJoCo has OSMesa.
check_full_files() {
    local site python version count osmesa
    site=("$ROOT"/opt/gym/lib/python3*/site-packages)
    [ -d "${site[0]}" ] || fail "the image has no virtualenv /opt/gym"
    python="$(image_env GYM_SERVER_PYTHON)"
    [ "$python" = /opt/gym/bin/python ] || fail "GYM_SERVER_PYTHON is '${python}', want /opt/gym/bin/python"
    version="$(chroot "$ROOT" /opt/gym/bin/python -c 'import platform; print(platform.python_version())' 2>&1)" ||
        fail "/opt/gym/bin/python does not run in the image: $version"
    count="$(site_packages_match "${site[0]}" "$FULL_REQS")" || fail "/opt/gym: see above"
    [ "$(image_env MUJOCO_GL)" = osmesa ] || fail "MUJOCO_GL is '$(image_env MUJOCO_GL)', want osmesa"
    osmesa=("$ROOT"/usr/lib/*/libOSMesa.so.8)
    [ -e "${osmesa[0]}" ] || fail "MUJOCO_GL=osmesa but the image has no libOSMesa.so.8"
    printf '%s\n' "${ARGV[@]}" | grep -qx ale_py || fail "the CMD does not import ale_py: no ALE/* ids"
    ok "/opt/gym: Python $version, $count packages exactly as requirements-full.txt; GYM_SERVER_PYTHON=$python, MUJOCO_GL=osmesa with ${osmesa[0]#$ROOT}; CMD imports ale_py"
}

# The Python whose Gymnasium the full image's episodes are compared with: the project's
# .venv/bridge (REF_PYTHON), else one made here from the wheelhouse.
choose_reference() {
    REF_PYTHON="${REF_PYTHON:-$REPO/.venv/bridge/bin/python}"
    if ! "$REF_PYTHON" -c 'import gymnasium, Box2D, pygame, numpy' >/dev/null 2>&1; then
        echo "  no reference Python with gymnasium, box2d and pygame at $REF_PYTHON: making one from $WHEELHOUSE"
        python3 -m venv "$WORK/reference" >/dev/null &&
            "$WORK/reference/bin/pip" install -q --disable-pip-version-check --no-index --find-links "$WHEELHOUSE" \
                -c "$FULL_REQS" gymnasium Box2D pygame numpy >"$WORK/reference.log" 2>&1 ||
            { tail -20 "$WORK/reference.log"; fail "cannot make a reference Python (set REF_PYTHON, or run make venv)"; }
        REF_PYTHON="$WORK/reference/bin/python"
    fi
}

# check_python MODE: check_full.py against the running server, in its network namespace.
check_python() {
    inns env PYGAME_HIDE_SUPPORT_PROMPT=1 "$REF_PYTHON" "$HERE/check_full.py" --mode "$1" --volume "$VOL" --lock "$FULL_REQS" ||
        server_failed "check_full.py --mode $1 failed (above)"
}

# SIGTERM while bridged instances run: their workers go with the server.
stop_with_workers() {
    local iid workers
    iid="$(api POST /v1/envs/ '{"env_id": "LunarLander-v3"}' | jq -r .instance_id)" || server_failed "cannot create LunarLander-v3"
    api POST "/v1/envs/$iid/reset/" '{"seed": 1}' >/dev/null || server_failed "reset failed"
    workers="$(cat /proc/"$SPID"/task/*/children | wc -w)"
    [ "$workers" -ge 1 ] || server_failed "no worker process runs for the bridged instance $iid"
    stop_with_sigterm
    ok "SIGTERM with $workers worker process(es) running stopped the server in $STOP_MS ms, exit 0"
}

check_full_server() {
    check_python full
    health="$(inns curl -sS --fail --max-time 10 http://127.0.0.1:5000/healthz)" || server_failed "GET /healthz fails"
    jq -e '.status == "ok" and .recorder.healthy' <<<"$health" >/dev/null || server_failed "GET /healthz: $health"
    others="$(find "$VOL" -mindepth 1 \! -uid "$RUN_UID" -printf '%P (uid %U)\n' | head -5)"
    [ -z "$others" ] || server_failed "files not owned by the image's user: $others"
    ok "GET /healthz: status ok; every file in the volume is the image's user's"
    stop_with_workers
}

check_lab_files() {
    local site count
    site=("$ROOT"/opt/gym/lib/python3*/site-packages)
    [ -f "$ROOT/opt/lab/lab_envs.py" ] || fail "the lab image has no /opt/lab/lab_envs.py"
    [ "$(image_env PYTHONPATH)" = /opt/lab ] || fail "the lab image's PYTHONPATH is '$(image_env PYTHONPATH)', want /opt/lab"
    # shellcheck disable=SC2046 # one argument per pin
    count="$(site_packages_match "${site[0]}" "$FULL_REQS" $(grep -vE '^(#|$)' "$LAB_REQS"))" || fail "/opt/gym in the lab image: see above"
    ok "/opt/gym: $count packages, the full image's and $LAB_DIR/requirements.txt's ($(grep -vE '^(#|$)' "$LAB_REQS" | paste -sd' ')); /opt/lab/lab_envs.py on PYTHONPATH; CMD: ${ARGV[*]:1}"
}

# ---- the targets, one after the other ------------------------------------------------------
for t in slim full lab; do
    wants $t || continue
    stage "checks $t"
    case $t in
    slim)
        open_image "$SLIM_ID" slim
        start_server slim
        check_slim_server
        ;;
    full)
        open_image "$FULL_ID" full
        check_full_files
        choose_reference
        start_server full 60
        healthcheck_passes
        check_full_server
        ;;
    lab)
        open_image "$LAB_ID" lab
        check_lab_files
        start_server lab 60
        healthcheck_passes
        check_python lab
        stop_with_workers
        ;;
    esac
done
end_stage
echo "image sizes:"
for s in "${SIZES[@]}"; do echo "  $s"; done
exit 0
}
