#!/usr/bin/env bash
# Times the dashboard's overview for a tenant with 1,000 users and 30 days of events (60,000 events by default)
# against a fresh in-memory Azurite and one service instance (Release build), in headless Chromium, as recorded in
# BENCHMARKS.md. USERS, DAYS, EVENTS_PER_USER_DAY, ACTIVE_SHARE (share of user-days with events), RUNS override
# the defaults. BEFORE=<git revision> first runs the same bench against that revision's build (own Azurite, own
# seed), so a change is measured against its baseline in the same run. Needs chromium, chromium-driver and
# python3-selenium (Debian packages; installed here when missing and run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
if ! /usr/bin/python3 -c 'import selenium' 2>/dev/null || ! [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver python3-selenium >&2
fi
ensure_node_tools >/dev/null
export LLMCOST_API_KEY="bench-admin-key-$$"
service=""
cleanup() { if [[ -n "$service" ]]; then kill "$service" 2>/dev/null || true; wait "$service" 2>/dev/null || true; fi; stop_azurite; }
trap cleanup EXIT

# bench_build <label> <directory holding LlmCost.Functions.dll>: one fresh Azurite, one service, one JSON line.
bench_build() {
  local label="$1" dir="$2" blob queue table port
  read -r blob queue table port <<<"$(free_loopback_ports 4)"
  AZURITE_LOG="${TMPDIR:-/tmp}/llmcost-dash-bench-azurite-$$.log"
  start_azurite "$blob" "$queue" "$table"
  AzureWebJobsStorage="$(azurite_connection_string "$blob" "$queue" "$table")" PORT="$port" LLMCOST_ADMIN_KEY="$LLMCOST_API_KEY" \
    ASPNETCORE_ENVIRONMENT=Production LlmCost__Hosting__RunBackgroundFunctions=false \
    dotnet "$dir/LlmCost.Functions.dll" >"${TMPDIR:-/tmp}/llmcost-dash-bench-service-$$.log" 2>&1 &
  service=$!
  for _ in $(seq 1 600); do curl -fs "http://127.0.0.1:$port/api/health" >/dev/null && break; sleep 0.1; done
  echo "$label: load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  printf '%s ' "$label"
  /usr/bin/python3 bench/dashboard_load.py "http://127.0.0.1:$port"
  echo "$label: load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  kill "$service" 2>/dev/null || true; wait "$service" 2>/dev/null || true; service=""
  stop_azurite
}

if [[ -n "${BEFORE:-}" ]]; then
  before_src="$(mktemp -d "${TMPDIR:-/tmp}/llmcost-dash-before-XXXXXX")"
  git archive "$BEFORE" | tar -x -C "$before_src"
  dotnet build "$before_src/src/LlmCost.Functions" -c Release --nologo -v q >&2
  bench_build "before($BEFORE)" "$before_src/src/LlmCost.Functions/bin/Release/net10.0"
fi
dotnet build src/LlmCost.Functions -c Release --nologo -v q >&2
bench_build "after" src/LlmCost.Functions/bin/Release/net10.0
