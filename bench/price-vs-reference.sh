#!/usr/bin/env bash
# `llmcost price` against the reference calculator (@pydantic/genai-prices' calcPrice in Node, the same oracle the
# differential tests use) on the same JSON lines: whole process, N alternating runs, medians of wall clock and of
# CPU time (user + sys). Usage: bench/price-vs-reference.sh [LINES=100000] [RUNS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
ensure_node_tools >/dev/null
lines="${1:-100000}"; runs="${2:-5}"
dotnet build src/LlmCost.Cli -c Release --nologo -v q >&2
input="${TMPDIR:-/tmp}/llmcost-price-bench-$lines.jsonl"
# Four models round-robin, random canonical usage with cache reads (seeded, so every run prices the same lines).
node -e '
  let s = 7; const r = n => { s = (s * 1103515245 + 12345) % 2147483648; return s % n; };
  const m = [["openai","gpt-4o"],["anthropic","claude-sonnet-4-20250514"],["google","gemini-2.5-flash"],["openai","gpt-4o-mini"]];
  const out = [];
  for (let i = 0; i < +process.argv[1]; i++) {
    const [p, model] = m[i % 4]; const input = 100 + r(200000);
    out.push(JSON.stringify({id: i, provider: p, model, timestamp: "2025-06-01T12:00:00Z",
      usage: {input_tokens: input, cache_read_tokens: r(input + 1), output_tokens: 1 + r(8000)}}));
  }
  process.stdout.write(out.join("\n") + "\n");' "$lines" > "$input"
measure() { /usr/bin/time -f "%e %U %S" "$@" < "$input" > /dev/null 2>"${TMPDIR:-/tmp}/llmcost-price-bench.err" || true; tail -1 "${TMPDIR:-/tmp}/llmcost-price-bench.err"; }
cs=(); node=()
for _ in $(seq 1 "$runs"); do
  cs+=("$(measure src/LlmCost.Cli/bin/Release/net10.0/llmcost price)")
  node+=("$(measure node tools/oracle/price-oracle.mjs "$LLMCOST_TOOLS/node_modules")")
done
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
cs_wall=$(printf '%s\n' "${cs[@]}" | awk '{print $1}' | median); cs_cpu=$(printf '%s\n' "${cs[@]}" | awk '{print $2+$3}' | median)
node_wall=$(printf '%s\n' "${node[@]}" | awk '{print $1}' | median); node_cpu=$(printf '%s\n' "${node[@]}" | awk '{print $2+$3}' | median)
echo "lines=$lines runs=$runs load=$(cut -d' ' -f1-3 /proc/loadavg)"
echo "llmcost price: median wall ${cs_wall} s, median cpu ${cs_cpu} s"
echo "reference    : median wall ${node_wall} s, median cpu ${node_cpu} s"
awk -v a="$node_wall" -v b="$cs_wall" -v c="$node_cpu" -v d="$cs_cpu" 'BEGIN { printf "ratio (reference / llmcost): wall %.2fx, cpu %.2fx\n", a/b, c/d }'
