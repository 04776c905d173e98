#!/usr/bin/env bash
# Installs Debian's Chromium for the Playwright tests when it is missing and we are root.
# (`playwright install` cannot download browsers on this network, and is not needed.)
set -u
CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing Chromium for the browser tests (apt-get install chromium)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null \
    && echo "Chromium installed." && exit 0
  echo "WARNING: could not install Chromium; browser tests will fail with CI=true, skip otherwise." >&2
else
  echo "WARNING: $CHROMIUM is missing and we are not root: install Debian's chromium package" \
       "for the browser tests (they fail with CI=true, skip otherwise)." >&2
fi
exit 0
