#!/usr/bin/env bash
# Budget authorisation load, end to end through HTTP, against a private in-memory Azurite on free loopback ports.
#   bench/budget-load.sh [latency|scale|all] [authorisations for scale, default 20000] [--short-warmup]
# Prints the tables recorded in BENCHMARKS.md ("Budget authorisation"); exits non-zero if a check failed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
ensure_node_tools
read -r blob queue table <<<"$(free_loopback_ports 3)"
start_azurite "$blob" "$queue" "$table"
trap 'stop_azurite' EXIT
dotnet run -c Release --project bench/LlmCost.BudgetLoad -- "$(azurite_connection_string "$blob" "$queue" "$table")" "$@"
