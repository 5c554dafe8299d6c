#!/bin/bash
# start-slurm.sh - the tests' SLURM cluster: an idempotent bring-up of a local SLURM 22.05
# cluster on Debian 12 without systemd: munged, mariadbd + slurmdbd (so sacct answers, as
# submitit needs), slurmctld, and three slurmd (nodes node1..node3 on this host).
# Run as root; the tests marked `slurm` use it (`pytest -m slurm`), and skip where none runs.
#
#   start-slurm.sh            install if needed, (re)write config, start what is not
#                             running, restart what runs with a changed config, wait
#                             until every node is idle and sacct answers
#   start-slurm.sh --reset    stop everything first and wipe controller state, slurmd
#                             spool and the accounting DB (job ids restart at 1)
#
# Environment knobs (defaults in brackets):
#   SLURM_CLUSTER [local]  SLURM_PARTITION [debug]
#   SLURM_NODES [3]        1 = one node named `hostname -s`; N>1 = N fake nodes
#                          node[1-N] (one slurmd each, ports 17001..) on this host
#   SLURM_CPUS [8]         CPUs per node (virtual, SlurmdParameters=config_overrides)
#   SLURM_ACCOUNTING [slurmdbd]  slurmdbd | none (none: no mariadb/slurmdbd; sacct fails)
#   SLURM_ENFORCE []       e.g. associations,limits,qos (needed for MaxSubmitJobs etc.)
#   SLURM_MAX_ARRAY [1001] SLURM_WAIT_S [120]  SLURM_SELFTEST [0] (1 = run a test job)
# Stop with stop-slurm.sh (kills by the pid files written here).
set -euo pipefail

CLUSTER=${SLURM_CLUSTER:-local}
PARTITION=${SLURM_PARTITION:-debug}
NNODES=${SLURM_NODES:-3}
CPUS=${SLURM_CPUS:-8}
ACCOUNTING=${SLURM_ACCOUNTING:-slurmdbd}
ENFORCE=${SLURM_ENFORCE:-}
MAXARRAY=${SLURM_MAX_ARRAY:-1001}
WAIT_S=${SLURM_WAIT_S:-120}
SELFTEST=${SLURM_SELFTEST:-0}
DBPASS=slurmdbpass            # local socket only (mariadbd runs with --skip-networking)
HERE=$(cd "$(dirname "$0")" && pwd)
HOST=$(hostname -s)
T0=$(date +%s%N)
RESET=0; [ "${1:-}" = "--reset" ] && RESET=1

log() { printf '[start-slurm %6.1fs] %s\n' "$(awk -v a="$(date +%s%N)" -v b="$T0" 'BEGIN{print (a-b)/1e9}')" "$*"; }
die() { log "ERROR: $*"; exit 1; }

# alive PIDFILE COMM: pid file exists and names a live process with that command name
alive() { local pid; [ -s "$1" ] && pid=$(cat "$1") && [ -d "/proc/$pid" ] && [ "$(cat /proc/$pid/comm 2>/dev/null)" = "$2" ]; }

# stop_pid PIDFILE COMM: SIGTERM, wait up to 30 s, then SIGKILL that one pid
stop_pid() {
  local pf=$1 name=$2 pid i
  if alive "$pf" "$name"; then
    local t=$SECONDS; pid=$(cat "$pf"); kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 60); do [ -d "/proc/$pid" ] || break; sleep 0.5; done
    if [ -d "/proc/$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    log "stopped $name (pid $pid) in $((SECONDS - t))s"
  fi
  rm -f "$pf"
}

wait_for() { # wait_for SECONDS DESCRIPTION CMD...
  local t=$1 what=$2 i; shift 2
  for i in $(seq 1 $((t * 4))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  die "timed out after ${t}s waiting for $what"
}

# ---------------------------------------------------------------- 1. packages
pkgs=(munge slurm-wlm slurmctld slurmd slurm-client)
[ "$ACCOUNTING" = slurmdbd ] && pkgs+=(slurmdbd mariadb-server)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing: ${missing[*]}"
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then   # keep postinst scripts from starting daemons
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  log "packages installed"
fi

# ---------------------------------------------------------------- 2. reset (optional)
if [ $RESET = 1 ]; then
  log "reset requested: stopping daemons and wiping state"
  SLURM_STOP_QUIET=1 "$HERE/stop-slurm.sh" || true
  rm -rf /var/lib/slurm/slurmctld/* /var/lib/slurm/slurmd/*
  RESET_DB=1
fi

# ---------------------------------------------------------------- 3. dirs, key, config
install -d -o munge -g munge -m 755 /run/munge
install -d -o munge -g munge -m 700 /var/log/munge /var/lib/munge
install -d -o slurm -g slurm -m 755 /var/lib/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
install -d -m 755 /etc/slurm
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key
  log "created munge key"
fi
chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key

total_mb=$(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo)
if [ "$NNODES" -le 1 ]; then
  NODES=("$HOST")
  NODELINE="NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$((total_mb * 9 / 10)) State=UNKNOWN"
else
  NODES=(); for i in $(seq 1 "$NNODES"); do NODES+=("node$i"); done
  NODELINE="NodeName=node[1-$NNODES] NodeHostname=$HOST NodeAddr=127.0.0.1 Port=[17001-$((17000 + NNODES))] CPUs=$CPUS RealMemory=$((total_mb * 9 / 10 / NNODES)) State=UNKNOWN"
fi
if [ "$ACCOUNTING" = slurmdbd ]; then
  ACCT="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost"
  [ -n "$ENFORCE" ] && ACCT+=$'\n'"AccountingStorageEnforce=$ENFORCE"
else
  ACCT="AccountingStorageType=accounting_storage/none"
fi

new_conf=$(mktemp); new_dbd=$(mktemp); trap 'rm -f "$new_conf" "$new_dbd"' EXIT
cat > "$new_conf" <<EOF
# Generated by $HERE/start-slurm.sh - edits are overwritten
ClusterName=$CLUSTER
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
# requeued jobs wait cred_expire s before they may start again (default 120)
AuthInfo=cred_expire=10
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
MailProg=/bin/true
SlurmctldPort=6817
SlurmdPort=6818
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd-%n.pid
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd/%n
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd-%n.log
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
# main loop every 5 s (default 60) so requeued/held jobs restart promptly
SchedulerParameters=sched_interval=5,bf_interval=5
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MaxArraySize=$MAXARRAY
MaxJobCount=100000
InactiveLimit=0
# a task SLURM kills (scancel, requeue, a node down) gets SIGKILL 5 s after SIGTERM: submitit
# ignores SIGTERM, and the tests need the kill to land before short tasks end
KillWait=5
MinJobAge=300
SlurmctldTimeout=120
SlurmdTimeout=300
Waittime=0
$ACCT
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
$NODELINE
# LLN: tasks spread over the least loaded nodes (not all packed onto node1)
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP LLN=YES
EOF
cat > "$new_dbd" <<EOF
# Generated by $HERE/start-slurm.sh - edits are overwritten
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=slurm
DebugLevel=info
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$DBPASS
StorageLoc=slurm_acct_db
EOF
CONF_CHANGED=0; DBD_CHANGED=0
cmp -s "$new_conf" /etc/slurm/slurm.conf || { install -m 644 "$new_conf" /etc/slurm/slurm.conf; CONF_CHANGED=1; log "wrote /etc/slurm/slurm.conf"; }
if [ "$ACCOUNTING" = slurmdbd ]; then
  cmp -s "$new_dbd" /etc/slurm/slurmdbd.conf || { install -o slurm -g slurm -m 600 "$new_dbd" /etc/slurm/slurmdbd.conf; DBD_CHANGED=1; log "wrote /etc/slurm/slurmdbd.conf"; }
fi

# ---------------------------------------------------------------- 4. munged
if ! alive /run/munge/munged.pid munged; then
  rm -f /run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged
  wait_for 15 "munged pid file" test -s /run/munge/munged.pid
  log "started munged (pid $(cat /run/munge/munged.pid))"
fi
wait_for 20 "munge" bash -c 'munge -n | unmunge'

# ---------------------------------------------------------------- 5. mariadb + slurmdbd
if [ "$ACCOUNTING" = slurmdbd ]; then
  if ! alive /run/mysqld/mysqld.pid mariadbd; then
    install -d -o mysql -g mysql -m 755 /run/mysqld /var/log/mysql
    [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
    rm -f /run/mysqld/mysqld.pid
    setsid /usr/sbin/mariadbd --user=mysql --pid-file=/run/mysqld/mysqld.pid --skip-networking \
      --innodb-buffer-pool-size=256M --innodb-lock-wait-timeout=900 \
      --log-error=/var/log/mysql/error.log </dev/null >/dev/null 2>&1 &
    wait_for 60 "mariadbd" mariadb-admin ping
    log "started mariadbd (pid $(cat /run/mysqld/mysqld.pid))"
  fi
  wait_for 60 "mariadbd" mariadb-admin ping
  if [ "${RESET_DB:-0}" = 1 ]; then
    stop_pid /run/slurmdbd.pid slurmdbd
    mariadb -e "DROP DATABASE IF EXISTS slurm_acct_db"
    log "dropped slurm_acct_db"
  fi
  mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DBPASS';
    ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$DBPASS';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"
  [ $DBD_CHANGED = 1 ] && stop_pid /run/slurmdbd.pid slurmdbd
  if ! alive /run/slurmdbd.pid slurmdbd; then
    rm -f /run/slurmdbd.pid
    [ -e /var/log/slurm/slurmdbd.log ] || install -o slurm -g slurm -m 640 /dev/null /var/log/slurm/slurmdbd.log
    /usr/sbin/slurmdbd
    wait_for 15 "slurmdbd pid file" test -s /run/slurmdbd.pid
    log "started slurmdbd (pid $(cat /run/slurmdbd.pid))"
  fi
  wait_for 60 "slurmdbd" sacctmgr -n -P list cluster
  if ! sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER"; then
    sacctmgr -i add cluster "$CLUSTER" >/dev/null
    log "added cluster $CLUSTER to the accounting DB"
  fi
else
  stop_pid /run/slurmdbd.pid slurmdbd
  stop_pid /run/mysqld/mysqld.pid mariadbd
fi

# ---------------------------------------------------------------- 6. slurmctld + slurmd(s)
if [ $CONF_CHANGED = 1 ]; then   # many slurm.conf settings need a restart, not just reconfigure
  for pf in /run/slurmd-*.pid; do [ -e "$pf" ] && stop_pid "$pf" slurmd; done
  stop_pid /run/slurmctld.pid slurmctld
fi
if ! alive /run/slurmctld.pid slurmctld; then
  rm -f /run/slurmctld.pid
  [ -e /var/log/slurm/slurmctld.log ] || install -o slurm -g slurm -m 640 /dev/null /var/log/slurm/slurmctld.log
  /usr/sbin/slurmctld
  wait_for 15 "slurmctld pid file" test -s /run/slurmctld.pid
  log "started slurmctld (pid $(cat /run/slurmctld.pid))"
fi
wait_for 60 "slurmctld" scontrol ping
for n in "${NODES[@]}"; do
  if ! alive "/run/slurmd-$n.pid" slurmd; then
    rm -f "/run/slurmd-$n.pid"
    /usr/sbin/slurmd -N "$n"
    wait_for 15 "slurmd pid file" test -s "/run/slurmd-$n.pid"
    log "started slurmd for node $n (pid $(cat /run/slurmd-$n.pid))"
  fi
done
# slurmd pid files of nodes that are no longer configured
for pf in /run/slurmd-*.pid; do
  [ -e "$pf" ] || continue; n=${pf#/run/slurmd-}; n=${n%.pid}
  printf '%s\n' "${NODES[@]}" | grep -qx "$n" || stop_pid "$pf" slurmd
done

# ---------------------------------------------------------------- 7. wait until usable
deadline=$(( $(date +%s) + WAIT_S )); resumed=0
while :; do
  states=$(sinfo -h -N -p "$PARTITION" -o '%N %T' 2>/dev/null | sort -u || true)
  bad=$(echo "$states" | awk 'NF==2 && $2 !~ /^(idle|mixed|allocated|completing)$/' || true)
  [ -n "$states" ] && [ -z "$bad" ] && break
  if [ $resumed = 0 ] && echo "$bad" | grep -qE 'down|drain|inval|fail' && [ $(( deadline - $(date +%s) )) -lt $(( WAIT_S - 10 )) ]; then
    for n in $(echo "$bad" | awk '{print $1}'); do scontrol update NodeName="$n" State=RESUME 2>/dev/null || true; done
    resumed=1; log "resumed nodes: $(echo $bad)"
  fi
  [ "$(date +%s)" -lt $deadline ] || die "nodes not ready after ${WAIT_S}s: $(echo $states)"
  sleep 0.5
done
log "nodes ready: $(echo $states)"
if [ "$ACCOUNTING" = slurmdbd ]; then
  wait_for 60 "sacct" sacct -n -X -o JobID,State --parsable2 -j 1
  log "sacct answers"
fi

if [ "$SELFTEST" = 1 ]; then
  jid=$(sbatch --parsable -p "$PARTITION" -o /dev/null -J selftest --wrap 'true') || die "selftest sbatch failed"
  wait_for 60 "selftest job $jid to leave the queue" bash -c "[ -z \"\$(squeue -h -j $jid 2>/dev/null)\" ]"
  if [ "$ACCOUNTING" = slurmdbd ]; then
    wait_for 30 "sacct record of job $jid" bash -c "sacct -n -X -P -o State -j $jid | grep -qx COMPLETED"
  fi
  log "selftest job $jid COMPLETED"
fi
log "SLURM cluster '$CLUSTER' up: partition $PARTITION, nodes ${NODES[*]}, $CPUS CPUs each, accounting=$ACCOUNTING"
