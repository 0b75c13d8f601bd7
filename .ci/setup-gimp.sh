#!/usr/bin/env bash
# GIMP 3.0 with Python 3 plug-ins, for tests/editors/test_gimp.py (the oldest GIMP 3 supported).
#
#   Debian 13 (trixie): the native packages.
#   Debian 12 (bookworm) only has GIMP 2.10, so: a minimal Debian 13 root in
#   build/gimp-root (.ci/debian-root.sh), GIMP 3 installed inside it.
# Env: PAINTERLY_GIMP_ROOT (where the root goes), DEBIAN_MIRROR (see debian-root.sh).
set -euo pipefail
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$SELF")/.."
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" != 0 ]; then exec sudo -E bash "$SELF" "$@"; fi

PACKAGES=(gimp python3 python3-gi gir1.2-gimp-3.0 gir1.2-gegl-0.4
    fonts-dejavu-core  # text layers
    xvfb xdotool)      # the dialog test: an X server of its own, a key press on OK

version=$(cat /etc/debian_version 2>/dev/null || echo unknown)
case "$version" in
13* | trixie*)
    echo "Debian $version: installing GIMP 3 natively"
    apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
    exit 0
    ;;
esac

GIMP_ROOT=${PAINTERLY_GIMP_ROOT:-$PWD/build/gimp-root}
READY=$GIMP_ROOT/.painterly-gimp-ready  # GIMP installed: the test looks for this
bash .ci/debian-root.sh trixie "$GIMP_ROOT" "${PACKAGES[@]}"
chroot "$GIMP_ROOT" gimp-console-3.0 --version
touch "$READY"
echo "setup-gimp: GIMP 3.0 ready in $GIMP_ROOT"
