#!/usr/bin/env bash
# One `llmcost load` run against a fresh in-memory Azurite and one service instance (Release build), as the
# ingest benchmarks in BENCHMARKS.md were measured. Every argument goes to `llmcost load`; the script adds --url,
# --api-key-env and --storage. Example (the ratio to raw single inserts at 64 clients):
#   bench/ingest-load.sh --count 10000 --concurrency 64 --baseline raw-insert
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
ensure_node_tools >/dev/null
dotnet build src/LlmCost.Functions -c Release --nologo -v q >&2
dotnet build src/LlmCost.Cli -c Release --nologo -v q >&2
read -r blob queue table <<<"$(free_loopback_ports 3)"
AZURITE_LOG="${TMPDIR:-/tmp}/llmcost-bench-azurite-$$.log"
start_azurite "$blob" "$queue" "$table"
storage="$(azurite_connection_string "$blob" "$queue" "$table")"
port="$(free_loopback_ports 1)"
export LLMCOST_API_KEY="bench-admin-key-$$"
AzureWebJobsStorage="$storage" PORT="$port" LLMCOST_ADMIN_KEY="$LLMCOST_API_KEY" ASPNETCORE_ENVIRONMENT=Production \
  dotnet src/LlmCost.Functions/bin/Release/net10.0/LlmCost.Functions.dll >"${TMPDIR:-/tmp}/llmcost-bench-service-$$.log" 2>&1 &
service=$!
trap 'kill "$service" 2>/dev/null || true; wait "$service" 2>/dev/null || true; stop_azurite' EXIT
for _ in $(seq 1 600); do curl -fs "http://127.0.0.1:$port/api/health" >/dev/null && break; sleep 0.1; done
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
src/LlmCost.Cli/bin/Release/net10.0/llmcost load --url "http://127.0.0.1:$port/api/usage" --api-key-env LLMCOST_API_KEY \
  --storage "$storage" "$@"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
