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
# goes), DEBIAN_MIRROR (the archive debootstrap and apt use; by default the
# Debian archive this machine's own apt sources name: no mirror is written here).

# debian_mirror [ROOT]: $DEBIAN_MIRROR when set; else the first Debian archive URI
# in ROOT/etc/apt (default /): sources.list, then sources.list.d/*.list and *.sources (deb822) in apt's order.
# A Debian archive: a "deb" source with the "main" component, not a -security
# suite, whose suites name this machine's codename (ROOT/etc/os-release) or whose
# path ends in /debian, so third-party repositories (nodesource, cloud-sdk, ...)
# are not taken; one with both wins over one with either. Fails, saying so, when
# there is none. tests/test_ci_scripts.py sources this file for it alone.
debian_mirror() {
    local root=${1:-} codename="" f
    local files=()
    if [ -n "${DEBIAN_MIRROR:-}" ]; then
        printf '%s\n' "$DEBIAN_MIRROR"
        return 0
    fi
    if [ -r "$root/etc/os-release" ]; then
        codename=$(. "$root/etc/os-release" && printf '%s' "${VERSION_CODENAME:-}")  # a shell file, by its spec
    fi
    [ -f "$root/etc/apt/sources.list" ] && files+=("$root/etc/apt/sources.list")
    for f in "$root"/etc/apt/sources.list.d/*; do
        case "$f" in *.list | *.sources) [ -f "$f" ] && files+=("$f") ;; esac
    done
    local found=""
    if [ ${#files[@]} -gt 0 ]; then
        found=$(awk -v codename="$codename" '
            function consider(types, uris, suites, comps, enabled,   n, i, s, c, u, uri, path, score) {
                if (tolower(enabled) ~ /^[ \t]*no/ || (" " types " ") !~ /[ \t]deb[ \t]/) return
                n = split(suites, s, " "); code = 0
                for (i = 1; i <= n; i++) {
                    if (s[i] ~ /-security$/ || s[i] ~ /\/updates$/) return
                    if (codename != "" && s[i] == codename) code = 1
                }
                n = split(comps, c, " "); main = 0
                for (i = 1; i <= n; i++) if (c[i] == "main") main = 1
                if (!main) return
                n = split(uris, u, " ")
                for (i = 1; i <= n; i++) {
                    uri = u[i]; sub(/\/+$/, "", uri)
                    if (uri !~ /^(https?|ftp|file):/) continue
                    path = uri; sub(/^[a-z]+:\/\/[^\/]*/, "", path)
                    score = code + (path ~ /(^|\/)debian$/)
                    if (score > best) { best = score; chosen = uri }
                }
            }
            function flush() {
                if (have) consider(types, uris, suites, comps, enabled)
                types = uris = suites = comps = field = ""; enabled = "yes"; have = 0
            }
            BEGIN { best = 0; chosen = "" }
            FNR == 1 { flush(); deb822 = (FILENAME ~ /\.sources$/) }
            deb822 && /^[ \t]*$/ { flush(); next }
            deb822 && /^#/ { next }
            deb822 && /^[ \t]/ {  # a continuation line (Signed-By: an inline key, or a long URIs:)
                if (field == "uris") uris = uris " " $0; else if (field == "suites") suites = suites " " $0
                else if (field == "components") comps = comps " " $0; else if (field == "types") types = types " " $0
                next
            }
            deb822 {
                field = tolower(substr($0, 1, index($0, ":") - 1)); value = substr($0, index($0, ":") + 1)
                have = 1
                if (field == "types") types = value; else if (field == "uris") uris = value
                else if (field == "suites") suites = value; else if (field == "components") comps = value
                else if (field == "enabled") enabled = value
                next
            }
            {  # one-line: deb [options] URI suite component...
                sub(/#.*/, "")
                if ($1 != "deb") next
                i = 2
                if ($2 ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
                comps = ""
                for (k = i + 2; k <= NF; k++) comps = comps " " $k
                consider("deb", $i, $(i + 1), comps, "yes")
            }
            END { flush(); if (chosen != "") print chosen }
        ' "${files[@]}" </dev/null)
    fi
    if [ -z "$found" ]; then
        echo "setup-gimp: no Debian archive found in $root/etc/apt/sources.list or $root/etc/apt/sources.list.d/" \
            "(a \"deb\" source with main for ${codename:-this release}): set DEBIAN_MIRROR to a Debian mirror's URL" >&2
        return 1
    fi
    printf '%s\n' "$found"
}

# Sourced (by the tests): the function above only.
if [ "${BASH_SOURCE[0]}" != "$0" ]; then return 0; fi

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
    MIRROR=$(debian_mirror) || exit 1  # before anything is removed or made
    echo "== Debian archive: $MIRROR"
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
