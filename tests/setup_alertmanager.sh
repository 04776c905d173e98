#!/usr/bin/env bash
# Installs Debian's prometheus-alertmanager for the alert-intake test that drives a real Alertmanager
# (tests/test_intake.py) when it is missing and we are root. The test starts its own Alertmanager on
# a free port with the README's receiver configuration; the package's own service is not needed, so
# it is stopped if the package started it. Idempotent and quiet when all is well. With CI=true a
# missing Alertmanager fails that test, elsewhere it skips loudly.
set -u
if command -v prometheus-alertmanager >/dev/null || command -v alertmanager >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null; then
  echo "WARNING: prometheus-alertmanager is missing and we are not root: install Debian's" \
       "prometheus-alertmanager package (the real-Alertmanager test fails with CI=true, skips otherwise)." >&2
  exit 0
fi
echo "Installing prometheus-alertmanager for the alert-intake test (apt-get install prometheus-alertmanager)..."
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null 2>&1; }; then
  echo "WARNING: could not install prometheus-alertmanager; the real-Alertmanager test fails with CI=true, skips otherwise." >&2
  exit 0
fi
# The package starts a service of its own on :9093 where systemd runs; the test needs none.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus-alertmanager 2>/dev/null; then
  systemctl stop prometheus-alertmanager >/dev/null 2>&1 || true
fi
exit 0
