#!/usr/bin/env bash
# Bring up a real single-node SLURM cluster on localhost (munged + slurmctld + slurmd, no
# accounting database) with fake GPUs, for the workflow's SLURM tests and CI.
#
# Idempotent: installs Debian's packages only when missing, rewrites the config, (re)starts only
# the daemons that are not running (or all of them when the config changed), then waits until the
# node is `idle`. Needs root and apt-get; works without systemd (containers, CI VMs).
#
# Knobs (environment):
#   TUE_SLURM_PARTITIONS  partitions to define, first one is the default   [cpu gpu]
#                         (must contain every name profiles/slurm routes jobs to)
#   TUE_SLURM_FAKE_GPUS   number of fake GPUs (gres/gpu) on the node       [2]
#   TUE_SLURM_NODE_CPUS   CPUs the node advertises (config_overrides lets  [16]
#                         it exceed the real count, so paper-sized rules are accepted)
#   TUE_SLURM_NODE_MEM_MB memory the node advertises, MB                   [65536]
#   TUE_SLURM_STATE_DIR   pid files and fake GPU device nodes             [/run/tue-slurm]
#   TUE_SLURM_WAIT_S      how long to wait for the node to become idle    [60]
#   TUE_SLURM_FORCE=1     replace an /etc/slurm/slurm.conf this script did not write
#
# Without slurmdbd `sacct` does not work: run snakemake with `--slurm-status-command squeue`
# (tests/workflow/test_slurm.py does). See docs/slurm.md.
set -euo pipefail

PARTITIONS=${TUE_SLURM_PARTITIONS:-"cpu gpu"}
FAKE_GPUS=${TUE_SLURM_FAKE_GPUS:-2}
NODE_CPUS=${TUE_SLURM_NODE_CPUS:-16}
NODE_MEM_MB=${TUE_SLURM_NODE_MEM_MB:-65536}
STATE_DIR=${TUE_SLURM_STATE_DIR:-/run/tue-slurm}
WAIT_S=${TUE_SLURM_WAIT_S:-60}
CONF_DIR=/etc/slurm
NODE=$(hostname -s)
PACKAGES=(slurmctld slurmd slurm-client munge)

say() { echo "slurm-up: $*" >&2; }
die() {
    say "ERROR: $*"
    exit 1
}

[[ $(id -u) -eq 0 ]] || die "must run as root (it installs packages and starts daemons); try: sudo $0"
[[ $FAKE_GPUS =~ ^[0-9]+$ ]] || die "TUE_SLURM_FAKE_GPUS must be a non-negative integer, got '$FAKE_GPUS'"
[[ $NODE_CPUS =~ ^[1-9][0-9]*$ ]] || die "TUE_SLURM_NODE_CPUS must be a positive integer, got '$NODE_CPUS'"
[[ $NODE_MEM_MB =~ ^[1-9][0-9]*$ ]] || die "TUE_SLURM_NODE_MEM_MB must be a positive integer, got '$NODE_MEM_MB'"
[[ -n ${PARTITIONS// /} ]] || die "TUE_SLURM_PARTITIONS is empty; give at least one partition name"

# Is the daemon whose pid file is $1 alive?
alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_packages() {
    local missing=()
    [[ -x /usr/sbin/slurmctld ]] || missing+=(slurmctld)
    [[ -x /usr/sbin/slurmd ]] || missing+=(slurmd)
    command -v sinfo >/dev/null || missing+=(slurm-client)
    [[ -x /usr/sbin/munged ]] || missing+=(munge)
    [[ ${#missing[@]} -eq 0 ]] && return 0
    command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them"
    say "installing ${PACKAGES[*]} (missing: ${missing[*]})"
    # Keep the packages' postinst from starting services: we start the daemons ourselves, the
    # same way with or without systemd. A host's own policy-rc.d is left as it is.
    (
        policy=/usr/sbin/policy-rc.d
        if [[ ! -e $policy ]]; then
            trap 'rm -f "$policy"' EXIT
            printf '#!/bin/sh\nexit 101\n' >"$policy"
            chmod 755 "$policy"
        fi
        export DEBIAN_FRONTEND=noninteractive
        if ! apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >&2; then
            apt-get update -q >&2 # a fresh CI machine has no package lists yet
            apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >&2
        fi
    )
}

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        say "munge already works; reusing it"
        return 0
    fi
    [[ -s /etc/munge/munge.key ]] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
    install -d -o munge -g munge -m 0755 /run/munge
    # munged refuses to run as root when the key belongs to munge; --force survives a stale socket.
    runuser -u munge -- /usr/sbin/munged --force
    touch "$STATE_DIR/munged.ours" # down.sh stops munged only when we started it
    for _ in $(seq 50); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "munged did not come up (see /var/log/munge/munged.log)"
}

make_fake_gpus() {
    # slurmd drops file-less GPUs and flags regular files; character devices cloned from
    # /dev/null (1,3) count cleanly and nothing ever opens them (TaskPlugin=task/none).
    local i
    for ((i = 0; i < FAKE_GPUS; i++)); do
        [[ -c $STATE_DIR/fakegpu$i ]] || mknod -m 666 "$STATE_DIR/fakegpu$i" c 1 3
    done
}

node_topology() {
    # With the real CPU count, take sockets/cores/threads as slurmd detects them (otherwise it
    # logs "reconfigured socket/core boundaries"); when advertising more CPUs than there are,
    # describe one socket of NODE_CPUS cores, or SLURM resets CPUs to the detected count.
    local detected
    detected=$(/usr/sbin/slurmd -C | head -1)
    if [[ $detected =~ (^| )CPUs=$NODE_CPUS( |$) ]]; then
        echo "$detected" | tr ' ' '\n' | grep -E '^(Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore)=' | tr '\n' ' '
    else
        echo "Boards=1 SocketsPerBoard=1 CoresPerSocket=$NODE_CPUS ThreadsPerCore=1 "
    fi
}

write_config() {
    local gres="" part first=1 tmp
    [[ $FAKE_GPUS -gt 0 ]] && gres="Gres=gpu:$FAKE_GPUS"
    tmp=$(mktemp)
    cat >"$tmp" <<EOF
# Written by tools/slurm/up.sh (tue-pipeline test cluster); rewritten on every run.
ClusterName=tue
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$STATE_DIR/slurmctld.pid
SlurmdPidFile=$STATE_DIR/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
# Reject impossible requests at sbatch time instead of leaving them PENDING forever.
EnforcePartLimits=ALL
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
# Finished jobs stay visible to squeue/scontrol for 10 min (the plugin polls squeue).
MinJobAge=600
MailProg=/bin/true
GresTypes=gpu
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
# Advertise more CPUs/memory than the machine has so production-sized requests are accepted.
SlurmdParameters=config_overrides
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$NODE_CPUS $(node_topology)RealMemory=$NODE_MEM_MB $gres State=UNKNOWN
EOF
    for part in $PARTITIONS; do
        if [[ $first -eq 1 ]]; then
            echo "PartitionName=$part Nodes=ALL Default=YES MaxTime=INFINITE State=UP" >>"$tmp"
            first=0
        else
            echo "PartitionName=$part Nodes=ALL Default=NO MaxTime=INFINITE State=UP" >>"$tmp"
        fi
    done
    if [[ $FAKE_GPUS -gt 0 ]]; then
        echo "NodeName=$NODE Name=gpu File=$STATE_DIR/fakegpu[0-$((FAKE_GPUS - 1))]" >>"$tmp.gres"
    else
        : >"$tmp.gres"
    fi
    CONFIG_CHANGED=0
    cmp -s "$tmp" "$CONF_DIR/slurm.conf" || CONFIG_CHANGED=1
    cmp -s "$tmp.gres" "$CONF_DIR/gres.conf" || CONFIG_CHANGED=1
    install -m 644 "$tmp" "$CONF_DIR/slurm.conf"
    install -m 644 "$tmp.gres" "$CONF_DIR/gres.conf"
    rm -f "$tmp" "$tmp.gres"
}

stop_daemon() { # $1 = pid file
    alive "$1" || return 0
    local pid
    pid=$(cat "$1")
    kill "$pid"
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
}

start_slurm() {
    install -d -o slurm -g slurm /var/spool/slurmctld /var/log/slurm
    install -d /var/spool/slurmd
    if [[ $CONFIG_CHANGED -eq 1 ]] && { alive "$STATE_DIR/slurmctld.pid" || alive "$STATE_DIR/slurmd.pid"; }; then
        say "configuration changed; restarting slurmctld and slurmd"
        stop_daemon "$STATE_DIR/slurmd.pid"
        stop_daemon "$STATE_DIR/slurmctld.pid"
    fi
    alive "$STATE_DIR/slurmctld.pid" || /usr/sbin/slurmctld
    alive "$STATE_DIR/slurmd.pid" || /usr/sbin/slurmd -N "$NODE"
}

wait_idle() {
    local state="" deadline=$((SECONDS + WAIT_S))
    while ((SECONDS < deadline)); do
        state=$(sinfo -h -n "$NODE" -o %t 2>/dev/null | head -1 || true)
        case $state in
        idle | mix | alloc) return 0 ;;
        drain* | drng | down* | inval*)
            # A drain is kept in the state file across restarts; clear it.
            scontrol update nodename="$NODE" state=resume 2>/dev/null || true
            ;;
        esac
        sleep 0.5
    done
    die "node $NODE not idle after ${WAIT_S}s (state '${state:-none}'); see /var/log/slurm/slurmd.log and slurmctld.log"
}

refuse_foreign_config() {
    # Never overwrite the configuration of a real cluster on this machine.
    local conf=$CONF_DIR/slurm.conf
    if [[ -s $conf ]] && ! grep -q '^# Written by tools/slurm/up.sh' "$conf" && [[ ${TUE_SLURM_FORCE:-0} != 1 ]]; then
        die "$conf was not written by this script; refusing to replace it (TUE_SLURM_FORCE=1 to override)"
    fi
}

main() {
    local t0=$SECONDS
    refuse_foreign_config
    install -d -m 755 "$STATE_DIR"
    install_packages
    install -d -m 755 "$CONF_DIR"
    start_munge
    make_fake_gpus
    write_config
    start_slurm
    wait_idle
    say "cluster '$NODE' up in $((SECONDS - t0))s: partitions [$PARTITIONS], $NODE_CPUS CPUs, ${NODE_MEM_MB} MB, $FAKE_GPUS fake GPU(s)"
    sinfo >&2
}

main "$@"
