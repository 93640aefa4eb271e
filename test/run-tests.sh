#!/usr/bin/env bash
# Runs Switchboard's whole test suite against real parts: a private
# redis-server on a free loopback port, and sipp as the far end of SIP calls.
# Installs redis-server and sipp (Debian: sip-tester) when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v sipp >/dev/null 2>&1 || need+=(sip-tester)
# go test -race needs cgo, and cgo a C compiler.
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Our own redis-server on a free loopback port: try random ports until one
# answers PING.
dir=$(mktemp -d)
cleanup() {
  if [ -f "$dir/redis.pid" ]; then kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
port=""
for _ in $(seq 1 20); do
  try=$(( 20000 + RANDOM % 20000 ))
  rm -f "$dir/redis.pid"
  redis-server --bind 127.0.0.1 --port "$try" --save '' --appendonly no --dir "$dir" \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" || continue
  for _ in $(seq 1 30); do
    # Ours only: the pid file of the server we started, answering on the port.
    if [ -f "$dir/redis.pid" ] && redis-cli -h 127.0.0.1 -p "$try" ping >/dev/null 2>&1; then port=$try; break; fi
    sleep 0.1
  done
  [ -n "$port" ] && break
  if [ -f "$dir/redis.pid" ]; then kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; fi
done
if [ -z "$port" ]; then echo "could not start redis-server on loopback" >&2; cat "$dir/redis.log" >&2 || true; exit 1; fi
export SWITCHBOARD_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
echo "redis-server on 127.0.0.1:$port; sipp $(sipp -v 2>/dev/null | grep -o 'v[0-9.]*' | head -1)"

go version
go vet ./...
go test -race -count=1 -timeout 9m "$@" ./...
