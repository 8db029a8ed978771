#!/usr/bin/env bash
# Regenerates the Azure Functions metadata from the definitions in code: functions/<Name>/function.json (one per
# /api endpoint named with .WithName(...) and per registered timer/queue function) and host.json. Run it after
# adding or changing an endpoint or a background function; a test fails while the checked-in files differ.
# Also writes infra-bicep/storage-resources.json (the tables, queues and containers the app declares), from
# which infra-bicep/main.bicep creates them.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build src/LlmCost.Functions -c Release --nologo -v q >&2
# Fixed settings so the output depends on the code only (no diagnostic functions, default storage prefix; the
# function.json files do not depend on the prefix: queue names are %AppSetting% expressions).
ASPNETCORE_ENVIRONMENT=Production DOTNET_ENVIRONMENT=Production \
  dotnet src/LlmCost.Functions/bin/Release/net10.0/LlmCost.Functions.dll \
  --generate-functions functions --generate-host-json host.json --describe-storage infra-bicep/storage-resources.json \
  --LlmCost:Hosting:DiagnosticFunctions=false --LlmCost:Storage:Prefix=llmcost
