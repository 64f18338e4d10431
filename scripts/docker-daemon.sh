#!/usr/bin/env bash
# Start or stop a Docker daemon for CI on a machine without one running.
#   scripts/docker-daemon.sh start   # no-op when a daemon already answers
#   scripts/docker-daemon.sh stop    # stops only a daemon that `start` launched
# The vfs storage driver works everywhere (no overlayfs inside containers or VMs needed) at the
# price of copying whole layers, so the images keep their layers few and small.
set -euo pipefail

state_dir=${CHURN_CACHE_DIR:-$HOME/.cache/churn-platform}/dockerd
pidfile=$state_dir/dockerd.pid
log=$state_dir/dockerd.log

answers() { docker info >/dev/null 2>&1; }

start() {
  if answers; then
    echo "docker-daemon: a daemon already answers; using it"
    return 0
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    echo "docker-daemon: dockerd not found (Debian: apt-get install docker.io)" >&2
    return 1
  fi
  mkdir -p "$state_dir"
  # setsid: the daemon survives this script, and its process group can be stopped as one.
  setsid dockerd --storage-driver=vfs >"$log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  for _ in $(seq 60); do
    if answers; then
      echo "docker-daemon: dockerd (pid $(cat "$pidfile")) answers; log in $log"
      return 0
    fi
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then break; fi
    sleep 1
  done
  echo "docker-daemon: dockerd did not answer within 60 s; last log lines:" >&2
  tail -n 20 "$log" >&2 || true
  stop
  return 1
}

stop() {
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    # dockerd stops its containers first (10 s grace each); give it time before forcing.
    for _ in $(seq 30); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 1
    done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" || true; fi
    echo "docker-daemon: stopped dockerd (pid $pid)"
  fi
  rm -f "$pidfile"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
