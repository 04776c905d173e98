#!/usr/bin/env bash
# Installs HarfBuzz's subsetting library when it is missing and we are root. WeasyPrint 70 uses it
# to embed only the glyphs a PDF needs, and warns without it (a warning fails the tests).
set -u
if ldconfig -p 2>/dev/null | grep -q 'libharfbuzz-subset.so.0'; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing HarfBuzz-Subset for WeasyPrint (apt-get install libharfbuzz-subset0)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq libharfbuzz-subset0 >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq libharfbuzz-subset0 >/dev/null; } \
    && echo "HarfBuzz-Subset installed." && exit 0
  echo "WARNING: could not install libharfbuzz-subset0; PDF tests will fail on WeasyPrint's warning." >&2
else
  echo "WARNING: libharfbuzz-subset0 is missing and we are not root: install it for the PDF tests." >&2
fi
exit 0
