#!/usr/bin/env bash
# Regenerates docs/openapi/v1.json (the committed OpenAPI snapshot the test suite's Kiota client is generated from)
# from what the app serves: starts a private Azurite, runs the snapshot test in update mode, stops Azurite.
# Run it after adding or changing an endpoint (see docs/api.md), then commit docs/openapi/v1.json.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
ensure_node_tools
read -r blob queue table <<<"$(free_loopback_ports 3)"
start_azurite "$blob" "$queue" "$table"
trap stop_azurite EXIT
export LLMCOST_TEST_STORAGE="$(azurite_connection_string "$blob" "$queue" "$table")"
LLMCOST_UPDATE_OPENAPI=1 dotnet test tests/LlmCost.Functions.Tests -c Release --nologo -v q \
  --filter "FullyQualifiedName~OpenApiClientTests.TheServedDocumentEqualsTheCommittedSnapshot"
# The client is generated from the snapshot: build again so it is regenerated, and check it still compiles.
dotnet build tests/LlmCost.Functions.Tests -c Release --nologo -v q
git --no-pager diff --stat -- docs/openapi/v1.json
