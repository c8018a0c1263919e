#!/bin/sh
# Redis for the embedded default: Debian's redis-server on loopback, with AOF and noeviction
# (bullmq's production settings). Idempotent.
#
#   scripts/redis.sh start|stop|status [PORT] [DIR]
#
# PORT defaults to 6390, DIR to var/redis (relative to the current directory, the repository root).
# `start` returns once PING answers and prints the REDIS_URL to use.
set -eu

cmd=${1:-status}
port=${2:-6390}
dir=${3:-var/redis}

case $cmd in start|stop|status) ;; *) echo "usage: $0 start|stop|status [PORT] [DIR]" >&2; exit 2 ;; esac
case $port in ''|*[!0-9]*) echo "$0: bad port: $port" >&2; exit 2 ;; esac

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
pidfile=$dir/redis-$port.pid
url=redis://127.0.0.1:$port

ping() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]
  else
    # no redis-cli: speak RESP over bash's /dev/tcp
    bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && printf 'PING\r\n' >&3 && read -r -t 2 line <&3 && [ \"\${line%\$(printf '\r')}\" = +PONG ]" 2>/dev/null
  fi
}

running_pid() {
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

case $cmd in
  status)
    if pid=$(running_pid) && ping; then echo "redis running: pid $pid, $url"; exit 0; fi
    echo "redis not running on port $port"; exit 1 ;;
  stop)
    if pid=$(running_pid); then
      kill "$pid"
      i=0
      while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
      if kill -0 "$pid" 2>/dev/null; then echo "$0: redis pid $pid did not stop" >&2; exit 1; fi
    fi
    rm -f "$pidfile"
    echo "redis stopped (port $port)"; exit 0 ;;
  start)
    if running_pid >/dev/null && ping; then echo "$url"; exit 0; fi
    if ping; then echo "$0: port $port answers PING but is not ours ($pidfile)" >&2; exit 1; fi
    if ! command -v redis-server >/dev/null 2>&1; then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "redis-server missing: installing Debian's package" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server >&2 \
          || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server >&2; }
        # the package starts a system instance on 6379; ours is separate and that one is not needed
      else
        echo "$0: redis-server not found (apt-get install redis-server)" >&2; exit 1
      fi
    fi
    rm -f "$pidfile"
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --pidfile "$pidfile" \
      --appendonly yes --appendfilename "appendonly-$port.aof" --appenddirname "appendonly-$port" \
      --dbfilename "dump-$port.rdb" --maxmemory-policy noeviction \
      --daemonize yes --logfile "$dir/redis-$port.log" --protected-mode yes >/dev/null
    i=0
    until ping; do
      i=$((i + 1))
      if [ $i -gt 100 ]; then echo "$0: redis did not answer on port $port; see $dir/redis-$port.log" >&2; exit 1; fi
      sleep 0.1
    done
    echo "$url" ;;
esac
