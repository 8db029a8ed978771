#!/usr/bin/env bash
# Sets up and runs the service locally: installs Azurite from the lockfile if missing, starts it on loopback
# (10000-10002) unless one already answers there, builds and starts the service on http://127.0.0.1:${PORT:-7071}
# in standalone mode, and stops the Azurite it started when the service stops (Ctrl-C or SIGTERM).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/tools.sh

export PORT="${PORT:-7071}"
export ASPNETCORE_ENVIRONMENT="${ASPNETCORE_ENVIRONMENT:-Development}"
export LLMCOST_ADMIN_KEY="${LLMCOST_ADMIN_KEY:-dev-admin-key-change-me}"

if azurite_answers 10002; then
  echo "using the Azurite already answering on 127.0.0.1:10000-10002 (left running)" >&2
else
  echo "starting Azurite on 127.0.0.1:10000-10002" >&2
  AZURITE_LOG="${TMPDIR:-/tmp}/llmcost-azurite.log"
  start_azurite 10000 10001 10002
fi
export AzureWebJobsStorage="${AzureWebJobsStorage:-UseDevelopmentStorage=true}"

dotnet build src/LlmCost.Functions -c Release --nologo -v q
service_pid=""
shutdown() {
  if [[ -n "$service_pid" ]]; then kill -TERM "$service_pid" 2>/dev/null || true; wait "$service_pid" 2>/dev/null || true; fi
  stop_azurite
}
trap shutdown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
echo "service on http://127.0.0.1:$PORT (admin key from LLMCOST_ADMIN_KEY)" >&2
dotnet src/LlmCost.Functions/bin/Release/net10.0/LlmCost.Functions.dll &
service_pid=$!
wait "$service_pid"
