#!/usr/bin/env bash
# Krita 5 for the editor integration tests (tests/editors/): the application with
# its Python scripting, PyQt5 for the plug-in, and Xvfb for the full-window test.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get install -y -q --no-install-recommends krita python3-pyqt5 python3-sip xvfb xauth
