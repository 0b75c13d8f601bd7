#!/usr/bin/env bash
# Make (or reuse) a minimal Debian root with some packages installed, for the editor tests:
#
#   bash .ci/debian-root.sh SUITE ROOT PACKAGE...
#
# setup-gimp.sh makes a Debian 13 (trixie) root for GIMP 3.0 on Debian 12 hosts;
# setup-sid.sh a Debian sid root for today's editors (Krita 5.3, GIMP 3.2). The tests
# run the editors chrooted with the checkout, the venv and its Python bind-mounted
# at the same paths (see ../../shared/EDITOR-TESTING.md).
#
# Idempotent: a finished root is reused (only missing packages are installed),
# a half-made one is removed and made again. Everything this script mounts is
# unmounted on exit, failure included. Env: DEBIAN_MIRROR (the archive debootstrap
# and apt use; by default the Debian archive this machine's own apt sources name:
# no mirror is written here).

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

# Sourced (by the tests and the setup scripts): the function above only.
if [ "${BASH_SOURCE[0]}" != "$0" ]; then return 0; fi

set -euo pipefail
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
export DEBIAN_FRONTEND=noninteractive
if [ $# -lt 3 ]; then
    echo "usage: $0 SUITE ROOT PACKAGE..." >&2
    exit 2
fi
if [ "$(id -u)" != 0 ]; then exec sudo -E bash "$SELF" "$@"; fi
SUITE=$1
DEB_ROOT=$2
shift 2
# Every root runs the worker on the host venv's Python (bind-mounted): the shared libraries it and
# its wheels load, whatever the editor brings: ctypes, zlib/bz2/lzma, hashlib, OpenMP, C++.
WORKER_LIBS=(libffi8 zlib1g libbz2-1.0 liblzma5 libssl3t64 libsqlite3-0 libgomp1 libstdc++6)
PACKAGES=("$@" "${WORKER_LIBS[@]}")
BASE_DONE=$DEB_ROOT/.painterly-base-done  # debootstrap finished

# A private mount namespace where possible: whatever is mounted below (by this
# script or by debootstrap) disappears with it even if it is killed; the trap
# unmounts explicitly as well.
if [ -z "${PAINTERLY_SETUP_NS:-}" ] && unshare --mount --propagation private true 2>/dev/null; then
    PAINTERLY_SETUP_NS=1 exec unshare --mount --propagation private bash "$SELF" "$SUITE" "$DEB_ROOT" "$@"
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
    if [ -n "${PAINTERLY_SETUP_NS:-}" ] && [ -d "$DEB_ROOT" ]; then
        # Our own namespace: anything left (a failed debootstrap's proc/sys) is ours.
        for m in $(mounts_under "$DEB_ROOT"); do umount -l "$m" 2>/dev/null || true; done
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
    if [ -e "$DEB_ROOT" ]; then
        if [ -n "$(mounts_under "$DEB_ROOT")" ]; then
            echo "debian-root: $DEB_ROOT is half-made but has mounts in it; unmount them first" >&2
            exit 1
        fi
        echo "== removing the unfinished root $DEB_ROOT"
        rm -rf --one-file-system "$DEB_ROOT"
    fi
    command -v debootstrap >/dev/null || { apt-get update -q; apt-get install -y -q --no-install-recommends debootstrap; }
    echo "== debootstrap $SUITE into $DEB_ROOT"
    mkdir -p "$(dirname "$DEB_ROOT")"
    debootstrap --variant=minbase "$SUITE" "$DEB_ROOT" "$MIRROR"
    touch "$BASE_DONE"
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(chroot "$DEB_ROOT" dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing into the chroot: ${missing[*]}"
    mkdir -p "$DEB_ROOT/proc"
    mount -t proc proc "$DEB_ROOT/proc"
    MOUNTED+=("$DEB_ROOT/proc")
    bind /dev "$DEB_ROOT/dev"
    cp -L /etc/resolv.conf "$DEB_ROOT/etc/resolv.conf" 2>/dev/null || true
    printf '#!/bin/sh\nexit 101\n' >"$DEB_ROOT/usr/sbin/policy-rc.d"  # start no services
    chmod 755 "$DEB_ROOT/usr/sbin/policy-rc.d"
    # A test root, not a system: a mirror that is a frozen snapshot of the archive serves sid's
    # Release file past its Valid-Until (measured: 26 days), and apt would refuse all of sid.
    echo 'Acquire::Check-Valid-Until "false";' >"$DEB_ROOT/etc/apt/apt.conf.d/99painterly-snapshot"
    chroot "$DEB_ROOT" apt-get update -q
    chroot "$DEB_ROOT" apt-get install -y -q --no-install-recommends "${missing[@]}"
    chroot "$DEB_ROOT" apt-get clean
fi
