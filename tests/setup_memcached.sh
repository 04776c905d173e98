#!/usr/bin/env bash
# Installs Debian's memcached for the scale-out test when it is missing and we are root: the test
# starts its own memcached on a free port as the sign-in rate limit's shared store, the way several
# app servers share one (RATELIMIT_STORAGE_URI=memcached://...). No daemon is left running.
set -u
if command -v memcached >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing memcached for the scale-out test (apt-get install memcached)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends memcached >/dev/null \
    && { systemctl disable --now memcached >/dev/null 2>&1 || true; } && echo "memcached installed." && exit 0
  echo "WARNING: could not install memcached; the shared rate-limit test will fail with CI=true, skip otherwise." >&2
else
  echo "WARNING: memcached is missing and we are not root: install Debian's memcached package" \
       "for the shared rate-limit test (it fails with CI=true, skips otherwise)." >&2
fi
exit 0
