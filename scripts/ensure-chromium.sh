#!/usr/bin/env bash
# `npm run docs:check` renders /docs in Debian's Chromium (playwright-core drives it; its own
# browser downloads are not used). Installs the package where it is missing.
set -euo pipefail
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "docs:check: installing Debian's chromium (apt-get)…"
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
