# A throw-away single-node Slurm cluster for the tests, as root: munged with a fresh key,
# slurmctld and slurmd, all state, sockets and logs in one directory, on random ports.
# Source this file, then:  slurm_start DIR   ...   slurm_stop
# slurm_start exports SLURM_CONF; slurm_stop kills exactly the daemons it started (by pid).
slurm_pids=()

slurm_start() {
  local d=$1 host
  host=$(hostname -s)
  mkdir -p "$d/munge" "$d/state" "$d/spool" "$d/log"
  chmod 700 "$d/munge"
  mungekey -c -k "$d/munge/munge.key" || return 1
  munged -F --force -S "$d/munge/munge.sock" --key-file="$d/munge/munge.key" \
    --log-file="$d/log/munged.log" --pid-file="$d/munge/munged.pid" \
    --seed-file="$d/munge/munged.seed" >"$d/log/munged.out" 2>&1 &
  slurm_pids+=($!)
  local port=$((20000 + RANDOM % 20000))
  cat >"$d/slurm.conf" <<CONF
ClusterName=synlawtest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$d/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=sched_min_interval=100000
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MaxArraySize=${SLURM_TEST_MAX_ARRAY:-1001}
NodeName=$host CPUs=$(nproc) RealMemory=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo) State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF=$d/slurm.conf
  for _ in $(seq 50); do [ -S "$d/munge/munge.sock" ] && break; sleep 0.1; done
  slurmctld -D -f "$SLURM_CONF" >"$d/log/slurmctld.out" 2>&1 &
  slurm_pids+=($!)
  slurmd -D -N "$host" -f "$SLURM_CONF" >"$d/log/slurmd.out" 2>&1 &
  slurm_pids+=($!)
  for _ in $(seq 100); do
    sinfo -h -o %t 2>/dev/null | grep -q idle && return 0
    sleep 0.2
  done
  echo "slurm_start: the node did not come up; logs in $d/log" >&2
  tail -5 "$d"/log/*.out >&2
  return 1
}

slurm_stop() {
  local p
  for p in "${slurm_pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${slurm_pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  slurm_pids=()
}

# Wait until the queue is empty (at most $1 seconds).
slurm_wait_empty() {
  local t=0
  while [ -n "$(squeue -h 2>/dev/null)" ]; do
    sleep 1; t=$((t + 1))
    [ $t -ge "$1" ] && { echo "slurm_wait_empty: queue not empty after $1 s" >&2; squeue >&2; return 1; }
  done
  return 0
}
