#!/usr/bin/env bash
# GIMP 3 with Python 3 plug-ins, for tests/editors/test_gimp.py.
#
#   Debian 13 (trixie): the native packages.
#   Debian 12 (bookworm) only has GIMP 2.10, so: a minimal Debian 13 root in
#   build/gimp-root (debootstrap), GIMP 3 installed inside it. The test runs
#   gimp-console-3.0 in that chroot with the checkout, the venv and its Python
#   bind-mounted at the same paths (see ../../shared/EDITOR-TESTING.md).
#
# Idempotent: a finished root is reused (only missing packages are installed),
# a half-made one is removed and made again. Everything this script mounts is
# unmounted on exit, failure included. Env: PAINTERLY_GIMP_ROOT (where the root
# goes), DEBIAN_MIRROR (the archive debootstrap and apt use).
set -euo pipefail
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$SELF")/.."
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" != 0 ]; then exec sudo -E bash "$SELF" "$@"; fi

PACKAGES=(gimp python3 python3-gi gir1.2-gimp-3.0 gir1.2-gegl-0.4
    fonts-dejavu-core  # text layers
    xvfb xdotool)      # the dialog test: an X server of its own, a key press on OK
# Shared libraries the worker's Python (the host's venv, bind-mounted into the
# chroot) and its wheels load: ctypes, zlib/bz2/lzma, hashlib, OpenMP, C++.
WORKER_LIBS=(libffi8 zlib1g libbz2-1.0 liblzma5 libssl3t64 libsqlite3-0 libgomp1 libstdc++6)

version=$(cat /etc/debian_version 2>/dev/null || echo unknown)
case "$version" in
13* | trixie*)
    echo "Debian $version: installing GIMP 3 natively"
    apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
    exit 0
    ;;
esac

GIMP_ROOT=${PAINTERLY_GIMP_ROOT:-$PWD/build/gimp-root}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE_DONE=$GIMP_ROOT/.painterly-base-done  # debootstrap finished
READY=$GIMP_ROOT/.painterly-gimp-ready     # GIMP installed: the test looks for this

# A private mount namespace where possible: whatever is mounted below (by this
# script or by debootstrap) disappears with it even if it is killed; the trap
# unmounts explicitly as well.
if [ -z "${PAINTERLY_SETUP_NS:-}" ] && unshare --mount --propagation private true 2>/dev/null; then
    PAINTERLY_SETUP_NS=1 exec unshare --mount --propagation private bash "$SELF" "$@"
fi

MOUNTED=()
mounts_under() {  # mount points at or below $1, deepest first
    awk -v root="$1" '$5 == root || index($5, root "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}
cleanup() {
    local i m
    for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTED[i]}" 2>/dev/null || umount -l "${MOUNTED[i]}" 2>/dev/null || true
    done
    if [ -n "${PAINTERLY_SETUP_NS:-}" ] && [ -d "$GIMP_ROOT" ]; then
        # Our own namespace: anything left (a failed debootstrap's proc/sys) is ours.
        for m in $(mounts_under "$GIMP_ROOT"); do umount -l "$m" 2>/dev/null || true; done
    fi
}
trap cleanup EXIT
trap "exit 143" TERM INT HUP
bind() {  # bind <source> <target inside the root>
    mkdir -p "$2"
    mount --bind "$1" "$2"
    MOUNTED+=("$2")
}

if [ ! -e "$BASE_DONE" ]; then
    if [ -e "$GIMP_ROOT" ]; then
        if [ -n "$(mounts_under "$GIMP_ROOT")" ]; then
            echo "setup-gimp: $GIMP_ROOT is half-made but has mounts in it; unmount them first" >&2
            exit 1
        fi
        echo "== removing the unfinished root $GIMP_ROOT"
        rm -rf --one-file-system "$GIMP_ROOT"
    fi
    command -v debootstrap >/dev/null || { apt-get update -q; apt-get install -y -q --no-install-recommends debootstrap; }
    echo "== debootstrap trixie into $GIMP_ROOT"
    mkdir -p "$(dirname "$GIMP_ROOT")"
    debootstrap --variant=minbase trixie "$GIMP_ROOT" "$MIRROR"
    touch "$BASE_DONE"
fi

missing=()
for pkg in "${PACKAGES[@]}" "${WORKER_LIBS[@]}"; do
    status=$(chroot "$GIMP_ROOT" dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing into the chroot: ${missing[*]}"
    mkdir -p "$GIMP_ROOT/proc"
    mount -t proc proc "$GIMP_ROOT/proc"
    MOUNTED+=("$GIMP_ROOT/proc")
    bind /dev "$GIMP_ROOT/dev"
    cp -L /etc/resolv.conf "$GIMP_ROOT/etc/resolv.conf" 2>/dev/null || true
    printf '#!/bin/sh\nexit 101\n' >"$GIMP_ROOT/usr/sbin/policy-rc.d"  # start no services
    chmod 755 "$GIMP_ROOT/usr/sbin/policy-rc.d"
    chroot "$GIMP_ROOT" apt-get update -q
    chroot "$GIMP_ROOT" apt-get install -y -q --no-install-recommends "${missing[@]}"
    chroot "$GIMP_ROOT" apt-get clean
fi
chroot "$GIMP_ROOT" gimp-console-3.0 --version
touch "$READY"
echo "setup-gimp: GIMP 3 ready in $GIMP_ROOT"
