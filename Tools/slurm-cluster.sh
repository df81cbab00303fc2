#!/usr/bin/env bash
# A private one-node Slurm on this machine, for the Slurm executor's tests (Tools/test.sh starts it).
#
#   bash Tools/slurm-cluster.sh start [DIR]   start munged, slurmctld and slurmd with everything under DIR
#                                             (default: a new folder under ${TMPDIR:-/tmp}); prints the
#                                             `export SLURM_CONF=…` line to eval, and waits until the node is idle
#   bash Tools/slurm-cluster.sh stop [DIR]    stop every daemon that `start` started there (DIR defaults to
#                                             the folder of $SLURM_CONF) and remove the folder
#
# It installs nothing (`bash Tools/setup.sh --tests` does) and touches nothing outside DIR: its own munge key,
# socket, pid and seed files; random free SlurmctldPort/SlurmdPort, so several clusters can run side by side;
# state, spool and log folders in DIR. Daemons run as the calling user (root in CI: slurmd needs it to start
# jobs as other users; as a normal user the jobs simply run as that user).
# Environment: SLURM_CLUSTER_MAX_ARRAY_SIZE (default 1001, Slurm's own default) sets MaxArraySize so tests can
# exercise array splitting by index. SLURM_CLUSTER_OWNER_PID: a watchdog (pid in DIR/run/watchdog.pid) stops
# the cluster once that process is gone, even when it was killed with SIGKILL and its traps never ran.
#
# Every daemon's pid is in a file under DIR, so `stop DIR` works from any shell, and stops only those pids.
set -euo pipefail

die() { echo "slurm-cluster: $*" >&2; exit 1; }

free_port() {
    # A port nobody listens on now, from the dynamic range; checked against the kernel's socket table.
    local used port
    used=$(awk 'NR > 1 { split($2, a, ":"); print strtonum("0x" a[2]) }' /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u)
    while true; do
        port=$(( 20000 + RANDOM % 30000 ))
        grep -qx "$port" <<<"$used" || { echo "$port"; return; }
    done
}

stop_pidfile() {
    # Stops the daemon named in a pid file (TERM, then KILL after 10 s); only that pid, never by name.
    local file=$1 pid i
    [ -s "$file" ] || return 0
    pid=$(cat "$file")
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}

close_inherited_descriptors() {
    # Daemons started here keep every descriptor they inherit; a caller that learns of this script's exit
    # by EOF on one (Foundation's Process does) would otherwise wait for the daemons.
    local fd
    for fd in /proc/$$/fd/*; do
        fd=${fd##*/}
        [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null || true
    done
}

start() {
    local dir=${1:-}
    close_inherited_descriptors
    for tool in munged mungekey slurmctld slurmd sinfo scontrol; do
        command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || die "$tool is not installed; run: bash Tools/setup.sh --tests"
    done
    export PATH="$PATH:/usr/sbin"
    if [ -z "$dir" ]; then dir=$(mktemp -d "${TMPDIR:-/tmp}/masknet-slurm.XXXXXX"); fi
    mkdir -p "$dir"/{munge,state,spool,log,run}
    dir=$(cd "$dir" && pwd)
    chmod 700 "$dir/munge"
    [ -e "$dir/slurm.conf" ] && die "$dir already holds a cluster; stop it first: bash Tools/slurm-cluster.sh stop $dir"

    # munged: its own key, socket, pid, seed and log (it refuses group/world-writable folders, hence 700).
    mungekey --create --keyfile="$dir/munge/munge.key" --bits=1024 >/dev/null 2>&1 \
        || dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$dir/munge/munge.key"
    munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
        --pid-file="$dir/munge/munged.pid" --seed-file="$dir/munge/munged.seed" \
        --log-file="$dir/log/munged.log" || die "munged did not start; see $dir/log/munged.log"

    local host cpus mem_mb ctld_port d_port user
    host=$(hostname -s)
    cpus=$(nproc --all)
    mem_mb=$(( $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) / 1024 / 2 ))
    ctld_port=$(free_port)
    d_port=$(free_port)
    while [ "$d_port" = "$ctld_port" ]; do d_port=$(free_port); done
    user=$(id -un)
    cat > "$dir/slurm.conf" <<EOF
# Written by Tools/slurm-cluster.sh: a private one-node cluster; everything lives in $dir.
ClusterName=masknet-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
# Memory limits are enforced by sampling (no cgroups here): a job above its --mem is killed as OUT_OF_MEMORY.
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
MaxArraySize=${SLURM_CLUSTER_MAX_ARRAY_SIZE:-1001}
MinJobAge=300
KillWait=5
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
MpiDefault=none
LaunchParameters=use_interactive_step
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
# A partition with site limits, for the tests of limit errors (jobs over them are held with a Partition*Limit reason).
PartitionName=limited Nodes=ALL MaxTime=2 MaxNodes=1 State=UP
EOF
    export SLURM_CONF="$dir/slurm.conf"
    slurmctld -f "$SLURM_CONF" || die "slurmctld did not start; see $dir/log/slurmctld.log"
    slurmd -f "$SLURM_CONF" || die "slurmd did not start; see $dir/log/slurmd.log"

    local state="" i
    for i in $(seq 1 120); do
        state=$(sinfo -h -o %t 2>/dev/null | head -1 || true)
        [ "$state" = "idle" ] && break
        sleep 0.5
    done
    if [ "$state" != "idle" ]; then
        echo "slurm-cluster: the node is '${state:-unreachable}' after 60 s; logs in $dir/log" >&2
        tail -5 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
        stop "$dir"
        exit 1
    fi
    if [ -n "${SLURM_CLUSTER_OWNER_PID:-}" ]; then
        start_watchdog "$dir" "$SLURM_CLUSTER_OWNER_PID"
    fi
    echo "export SLURM_CONF=$SLURM_CONF"
}

start_watchdog() {
    # A detached loop (own session, no terminal, output to the cluster's log) that stops the cluster when
    # the owner process has ended; `stop` kills it by its pid file first.
    local dir=$1 owner=$2 script
    script=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
    kill -0 "$owner" 2>/dev/null || die "SLURM_CLUSTER_OWNER_PID=$owner is not a running process"
    setsid bash -c 'echo $$ > "$1/run/watchdog.pid"; while kill -0 "$2" 2>/dev/null && [ -f "$1/slurm.conf" ]; do sleep 2; done
                    [ -f "$1/slurm.conf" ] && SLURM_CLUSTER_IN_WATCHDOG=1 bash "$3" stop "$1"' \
        watchdog "$dir" "$owner" "$script" </dev/null >>"$dir/log/watchdog.log" 2>&1 &
    local i
    for i in $(seq 1 50); do [ -s "$dir/run/watchdog.pid" ] && return 0; sleep 0.1; done
    die "the watchdog did not start"
}

stop() {
    local dir=${1:-}
    if [ -z "$dir" ]; then
        [ -n "${SLURM_CONF:-}" ] || die "stop needs the cluster's folder (or SLURM_CONF set to its slurm.conf)"
        dir=$(dirname "$SLURM_CONF")
    fi
    [ -f "$dir/slurm.conf" ] || die "$dir holds no cluster started by this script (no slurm.conf)"
    grep -q "^# Written by Tools/slurm-cluster.sh" "$dir/slurm.conf" || die "$dir/slurm.conf was not written by this script; not touching it"
    # The watchdog first (unless it is the one stopping the cluster), so it cannot race this stop.
    [ -n "${SLURM_CLUSTER_IN_WATCHDOG:-}" ] || stop_pidfile "$dir/run/watchdog.pid"
    # Jobs next, so none outlives its slurmd (with proctrack/linuxproc they are slurmstepd's children).
    SLURM_CONF="$dir/slurm.conf" timeout 10 scancel --user="$(id -un)" >/dev/null 2>&1 || true
    stop_pidfile "$dir/run/slurmd.pid"
    stop_pidfile "$dir/run/slurmctld.pid"
    stop_pidfile "$dir/munge/munged.pid"
    rm -rf "$dir"
}

case "${1:-}" in
    start) start "${2:-}" ;;
    stop) stop "${2:-}" ;;
    *) echo "usage: bash Tools/slurm-cluster.sh start|stop [DIR]" >&2; exit 2 ;;
esac
