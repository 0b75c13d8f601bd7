#!/usr/bin/env bash
# Today's editors for the editor tests: Krita 5.3 and GIMP 3.2, from Debian sid, in a
# minimal sid root in build/sid-root (.ci/debian-root.sh), whatever the host's release.
# tests/editors/ run each editor test against these as well as against Krita 5.1
# (the host's, setup-krita.sh) and GIMP 3.0 (setup-gimp.sh).
# Env: PAINTERLY_SID_ROOT (where the root goes), DEBIAN_MIRROR (see debian-root.sh).
set -euo pipefail
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$SELF")/.."
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" != 0 ]; then exec sudo -E bash "$SELF" "$@"; fi

PACKAGES=(gimp python3 python3-gi gir1.2-gimp-3.0 gir1.2-gegl-0.4
    krita python3-pyqt5
    fonts-dejavu-core  # text layers
    xvfb xauth xdotool)  # the window tests: an X server of their own, a key press on OK

SID_ROOT=${PAINTERLY_SID_ROOT:-$PWD/build/sid-root}
READY=$SID_ROOT/.painterly-sid-ready  # both editors installed: the tests look for this
bash .ci/debian-root.sh sid "$SID_ROOT" "${PACKAGES[@]}"
chroot "$SID_ROOT" gimp-console-3.2 --version
chroot "$SID_ROOT" dpkg-query -W -f='krita ${Version}\n' krita
touch "$READY"
echo "setup-sid: Krita 5.3 and GIMP 3.2 ready in $SID_ROOT"
