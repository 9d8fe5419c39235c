#!/usr/bin/env bash
# A 3-process cluster on this machine (README, "Running a cluster"): one seed with the coordinator and the
# layer balancers, two trainers; after a while one trainer is killed with SIGKILL and a third one joins.
# Usage: scripts/local-cluster.sh [PRESET] [ROUNDS]   (default: tiny 40; try small-16e 20 for a real model)
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-tiny}
rounds=${2:-40}
work=${MOE_WORK:-runs/local-cluster}
mkdir -p "$work"
dotnet build Cluster.Host -c Release -v q -nologo
host="dotnet Cluster.Host/bin/Release/net10.0/linux-x64/Cluster.Host.dll"

# A round whose trainer died is dropped after at most 60 s (the split brain resolver downs a silent node in ~25 s).
MOE_Job__RoundTimeout=00:01:00 $host node --roles coordinator,balancer --port 4053 --data-dir "$work/seed" \
  --serve-blobs http://127.0.0.1:8080 --http http://127.0.0.1:9464 \
  --job-id local --preset "$preset" --rounds "$rounds" --inner-steps 4 > "$work/seed.log" 2>&1 &
seed=$!
trainer() { # name, metrics port
  $host node --roles trainer --seed 127.0.0.1:4053 --port 0 --data-dir "$work/$1" --blobs http://127.0.0.1:8080 \
    --http "http://127.0.0.1:$2" --trainers 1 > "$work/$1.log" 2>&1 &
  echo $!
}
a=$(trainer a 9465)
b=$(trainer b 9466)
trap 'kill $seed $a ${b:-} ${c:-} 2>/dev/null || true' EXIT
echo "seed $seed, trainers $a $b; following $work/seed.log (Prometheus metrics at http://127.0.0.1:9464/metrics)"

# Rounds are printed as they are seen, so "round 3" itself may be skipped: wait for any round from 3 on.
until grep -qE "round ([3-9]|[1-9][0-9]+) of" "$work/seed.log"; do sleep 2; done
echo "killing trainer b ($b) with SIGKILL"; kill -9 "$b"; b=
c=$(trainer c 9467)
echo "trainer c ($c) joins"
until grep -q "finished" "$work/seed.log"; do sleep 2; done
grep -E "round|finished" "$work/seed.log" | tail -5
