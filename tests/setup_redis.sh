#!/usr/bin/env bash
# Makes a Redis answer on 127.0.0.1:6379 for the background-job tests (Huey's Redis backend, the one
# several machines share): installs Debian's redis-server when it is missing and we are root, and
# starts it when nothing answers there. Idempotent and quiet when all is well. The tests use
# TEST_REDIS_URL instead when it is set; with CI=true a missing Redis fails them, elsewhere they skip.
set -u
if [ -n "${TEST_REDIS_URL:-}" ]; then
  exit 0  # the caller brings their own server
fi
answers() { command -v redis-cli >/dev/null && [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }
if answers; then
  exit 0
fi
if ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null; then
    echo "WARNING: redis-server is missing and we are not root: install Debian's redis-server package" \
         "or set TEST_REDIS_URL (the Redis job tests fail with CI=true, skip otherwise)." >&2
    exit 0
  fi
  echo "Installing redis-server for the background-job tests (apt-get install redis-server)..."
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends redis-server >/dev/null 2>&1; }; then
    echo "WARNING: could not install redis-server; the Redis job tests fail with CI=true, skip otherwise." >&2
    exit 0
  fi
  # The package may have started its own service; if it answers now, that one will do.
  if answers; then
    exit 0
  fi
fi
# A throw-away test server: no snapshots or append-only file, nothing written to disk.
redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save "" --appendonly no \
  --logfile /tmp/redis-test-6379.log >/dev/null
for _ in $(seq 50); do
  answers && exit 0
  sleep 0.1
done
echo "WARNING: Redis did not start on 127.0.0.1:6379 (see /tmp/redis-test-6379.log); the Redis job" \
     "tests fail with CI=true, skip otherwise." >&2
exit 0
