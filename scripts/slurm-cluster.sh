#!/usr/bin/env bash
# Starts a real single-node Slurm cluster on this machine (root, Debian), submits the quick study
# as job arrays of 3 tasks per stage plus the dependent merge (`study --emit-slurm 3`), waits for
# them (bounded), compares the merged outputs with a single-process run, and stops the daemons it
# started. Called by .ci/run; the configuration is the one in docs/cluster.md.
# Usage: scripts/slurm-cluster.sh STUDY_BINARY REFERENCE_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(realpath "${1:?usage: slurm-cluster.sh STUDY_BINARY REFERENCE_DIR}")
ref=${2:?usage: slurm-cluster.sh STUDY_BINARY REFERENCE_DIR}
limit_s=${SLURM_WAIT_S:-240}

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  echo "== installing slurm-wlm and munge (Debian packages)"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null
fi
for d in slurmctld slurmd munged; do
  if pgrep -x "$d" >/dev/null; then echo "slurm-cluster: $d is already running; stop it first"; exit 1; fi
done

work=$(mktemp -d)
pids=()
stop() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
  rm -rf "$work"
}
trap stop EXIT
pid_of() { # the daemon's process id, from its pid file (written a moment after it starts)
  for _ in $(seq 100); do test -s "$1" && { cat "$1"; return; }; sleep 0.1; done
  echo "slurm-cluster: no pid file $1" >&2; exit 1
}

# munge: the authentication the Slurm daemons use.
mkdir -p /etc/munge /var/log/munge /run/munge /var/lib/munge
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown -R munge:munge /etc/munge /var/log/munge /run/munge /var/lib/munge
chmod 400 /etc/munge/munge.key
rm -f /run/munge/munged.pid
su -s /bin/sh munge -c /usr/sbin/munged
pids+=("$(pid_of /run/munge/munged.pid)")
munge -n | unmunge >/dev/null

# Slurm: one node with this machine's cores and 90 % of its memory, one partition.
host=$(hostname)
cpus=$(nproc)
mem_mb=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat >/etc/slurm/slurm.conf <<CONF
ClusterName=local
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
rm -f /run/slurmctld.pid /run/slurmd.pid
slurmctld
pids+=("$(pid_of /run/slurmctld.pid)")
slurmd
pids+=("$(pid_of /run/slurmd.pid)")
for _ in $(seq 60); do
  sinfo -h -o %T 2>/dev/null | grep -q idle && break
  sleep 1
done
sinfo -h -o %T | grep -q idle || { echo "slurm-cluster: the node did not come up"; sinfo; exit 1; }
echo "slurm-cluster: node $host up ($cpus CPUs, ${mem_mb} MB)"

out=$work/cluster
"$bin" --quick --threads 1 --out "$out" --emit-slurm 3 2>/dev/null
sh "$out/slurm/submit.sh"
start=$SECONDS
while [ -n "$(squeue -h 2>/dev/null)" ]; do
  if [ $((SECONDS - start)) -gt "$limit_s" ]; then
    echo "slurm-cluster: jobs still queued after ${limit_s}s:"; squeue; exit 1
  fi
  sleep 1
done
echo "slurm-cluster: all jobs left the queue after $((SECONDS - start))s"
test "$(ls "$out"/shards/*.json | wc -l)" -eq 9 || { echo "expected 9 shard files:"; ls "$out/shards"; exit 1; }
if [ ! -s "$out/report.md" ]; then
  echo "slurm-cluster: the merge wrote nothing; logs:"
  tail -n 5 "$out"/logs/* || true
  exit 1
fi
"$here/compare-study.sh" "$ref" "$out"
echo "slurm-cluster: job arrays and merge gave the single-process outputs"
