#!/usr/bin/env bash
# Runs every test: installs the tooling it needs (npm lockfile, NuGet), starts a private in-memory Azurite on
# loopback (ports 20000-20002, so a running ./run.sh is never disturbed), runs `dotnet test` on the solution,
# and stops everything it started.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/tools.sh

ensure_node_tools
for hook in scripts/test.d/*.sh; do
  [[ -e "$hook" ]] || continue
  # shellcheck disable=SC1090
  source "$hook"
done

AZURITE_LOG="${TMPDIR:-/tmp}/llmcost-test-azurite.log"
trap 'stop_azurite; for f in "${LLMCOST_CLEANUP[@]:-}"; do [[ -n "$f" ]] && eval "$f" || true; done' EXIT
start_azurite 20000 20001 20002
export LLMCOST_TEST_STORAGE
LLMCOST_TEST_STORAGE="$(azurite_connection_string 20000 20001 20002)"
export LLMCOST_GENAI_PRICES_CLI="$LLMCOST_TOOLS/node_modules/.bin/genai-prices"
export LLMCOST_NODE_TOOLS="$LLMCOST_TOOLS/node_modules"

dotnet build LlmCostFunctions.sln -c Release --nologo -v q
dotnet test LlmCostFunctions.sln -c Release --no-build --nologo -v q --logger "console;verbosity=normal" "$@"
