#!/usr/bin/env bash
# The committed Game of 24 budget sweeps (benchmarks/sections/bench.md): heuristic policy and
# value, every algorithm the installation has (today: mcts; add the baselines once merged:
# --algos mcts,mcts-uct,bfs,dfs,beam,best-of-n,greedy), 8 budgets, 3 seeds, 2 workers.
# Results go to runs/ (not committed); the tables and plots are copied to benchmarks/results/.
# Rerunning resumes whatever is already in runs/.
set -euo pipefail
cd "$(dirname "$0")/.."
ALGOS="${ALGOS:-mcts}"
common=(--algos "$ALGOS" --budgets 1,2,4,8,16,32,64,128 --seeds 3 --workers 2)
sweep() {   # name, set
  /usr/bin/time -v mcts-reason bench game24 --set "$2" "${common[@]}" --out "runs/$1.jsonl" \
    --plot "runs/$1.png" > "runs/$1.md" 2> "runs/$1.log"   # timings and peak RSS in the .log
  grep -E "records in|Elapsed|Maximum resident" "runs/$1.log"
  cp "runs/$1.md" "runs/$1.png" benchmarks/results/
}
mkdir -p runs benchmarks/results
sweep game24_hard100 hard100
sweep game24_tot "${TOT_CSV:-../shared/data/game24_4nums.csv}:901-1000"
sweep game24_all all
