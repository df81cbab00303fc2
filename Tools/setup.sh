#!/usr/bin/env bash
# Installs what masknet needs on a fresh Debian machine (Swift itself is expected on PATH).
# Safe to run repeatedly: it only installs packages that are missing.
#   bash Tools/setup.sh           what building and running masknet needs
#   bash Tools/setup.sh --tests   also what only the tests need: slurm-wlm and munge for the private one-node
#                                 Slurm that Tools/test.sh starts (Tools/slurm-cluster.sh), headless Chromium
#                                 (the report's browser check), tidy (HTML validation) and a font for it
set -euo pipefail
packages=(libopenblas-dev libpng-dev libjpeg-dev libyaml-dev zlib1g-dev pkg-config)
test_packages=()
for arg in "$@"; do
    case "$arg" in
        --tests) test_packages+=(slurm-wlm munge chromium tidy fonts-dejavu-core) ;;
        *) echo "setup: unknown option '$arg' (known: --tests)" >&2; exit 2 ;;
    esac
done
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
updated=false
install_missing() {  # install_missing [apt-get options…] -- packages…
    local options=() missing=() p
    while [ "$1" != "--" ]; do options+=("$1"); shift; done
    shift
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    echo "setup: installing ${missing[*]}"
    if ! $updated; then $SUDO apt-get update -qq; updated=true; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${options[@]}" "${missing[@]}" >/dev/null
}
install_missing -- "${packages[@]}"
# No recommends for the test packages: slurm-wlm would otherwise pull in a mail server and documentation.
[ ${#test_packages[@]} -eq 0 ] || install_missing --no-install-recommends -- "${test_packages[@]}"
command -v swift >/dev/null || { echo "setup: swift is not on PATH; install Swift 6.x first" >&2; exit 1; }
