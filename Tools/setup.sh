#!/usr/bin/env bash
# Installs what masknet needs on a fresh Debian machine (Swift itself is expected on PATH).
# Safe to run repeatedly: it only installs packages that are missing.
#   bash Tools/setup.sh           build and run
#   bash Tools/setup.sh --tests   also what only the tests use: headless Chromium (the report's browser
#                                 check) and tidy (HTML validation)
set -euo pipefail
packages=(libopenblas-dev libpng-dev libjpeg-dev libyaml-dev pkg-config)
for argument in "$@"; do
    case "$argument" in
        --tests) packages+=(chromium tidy fonts-dejavu-core) ;;
        *) echo "setup: unknown option $argument (use --tests for test-only packages)" >&2; exit 2 ;;
    esac
done
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "setup: swift is not on PATH; install Swift 6.x first" >&2; exit 1; }
