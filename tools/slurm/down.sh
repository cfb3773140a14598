#!/usr/bin/env bash
# Stop the local test cluster started by tools/slurm/up.sh: slurmd, slurmctld and (only when
# up.sh started it) munged, each by its pid file, in reverse start order. Packages stay installed.
#
#   tools/slurm/down.sh           stop the daemons (queued and running jobs are lost)
#   tools/slurm/down.sh --purge   also wipe SLURM's state, spool and logs (clears a sticky drain)
set -euo pipefail

STATE_DIR=${TUE_SLURM_STATE_DIR:-/run/tue-slurm}
PURGE=0
case ${1:-} in
--purge) PURGE=1 ;;
"") ;;
*)
    echo "usage: $0 [--purge]" >&2
    exit 2
    ;;
esac

say() { echo "slurm-down: $*" >&2; }

[[ $(id -u) -eq 0 ]] || {
    say "ERROR: must run as root"
    exit 1
}

stop_daemon() { # $1 = name, $2 = pid file
    local pid
    [[ -s $2 ]] || return 0
    pid=$(cat "$2")
    if ! kill -0 "$pid" 2>/dev/null; then
        rm -f "$2"
        return 0
    fi
    kill "$pid"
    for _ in $(seq 100); do
        if ! kill -0 "$pid" 2>/dev/null; then
            say "stopped $1 (pid $pid)"
            rm -f "$2"
            return 0
        fi
        sleep 0.1
    done
    say "$1 (pid $pid) ignored SIGTERM for 10s; sending SIGKILL"
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$2"
}

stop_daemon slurmd "$STATE_DIR/slurmd.pid"
stop_daemon slurmctld "$STATE_DIR/slurmctld.pid"
if [[ -e $STATE_DIR/munged.ours ]]; then
    stop_daemon munged /run/munge/munged.pid
    rm -f "$STATE_DIR/munged.ours"
fi

if [[ $PURGE -eq 1 ]]; then
    rm -rf /var/spool/slurmctld /var/spool/slurmd /var/log/slurm "$STATE_DIR"
    say "purged SLURM state, spool, logs and $STATE_DIR"
fi
