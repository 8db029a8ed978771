#!/usr/bin/env bash
# Runs every test: installs the tooling it needs (npm lockfile, NuGet), starts a private in-memory Azurite on
# free loopback ports (so neither a running ./run.sh nor another test run is disturbed; LLMCOST_TEST_AZURITE_PORTS
# "BLOB QUEUE TABLE" fixes them), runs `dotnet test` on the solution, and stops everything it started.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/tools.sh

# Hooks (scripts/test.d/*.sh) install and start what their tests need and append stop commands here.
LLMCOST_CLEANUP=()
trap 'stop_azurite; for f in "${LLMCOST_CLEANUP[@]:-}"; do [[ -n "$f" ]] && eval "$f" || true; done' EXIT

ensure_node_tools
for hook in scripts/test.d/*.sh; do
  [[ -e "$hook" ]] || continue
  # shellcheck disable=SC1090
  source "$hook"
done

AZURITE_LOG="${TMPDIR:-/tmp}/llmcost-test-azurite.log"
read -r az_blob az_queue az_table <<<"${LLMCOST_TEST_AZURITE_PORTS:-$(free_loopback_ports 3)}"
start_azurite "$az_blob" "$az_queue" "$az_table"
export LLMCOST_TEST_STORAGE
LLMCOST_TEST_STORAGE="$(azurite_connection_string "$az_blob" "$az_queue" "$az_table")"
export LLMCOST_GENAI_PRICES_CLI="$LLMCOST_TOOLS/node_modules/.bin/genai-prices"
export LLMCOST_NODE_TOOLS="$LLMCOST_TOOLS/node_modules"

dotnet build LlmCostFunctions.sln -c Release --nologo -v q
log="${TMPDIR:-/tmp}/llmcost-test-$$.log"
LLMCOST_CLEANUP+=("rm -f '$log'")
set +e
dotnet test LlmCostFunctions.sln -c Release --no-build --nologo -v q --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One plain closing line over all test assemblies (each prints "Passed: N" / "Failed: N" / "Skipped: N").
summary="$(awk '/^ +Passed: +[0-9]+$/ {p+=$2} /^ +Failed: +[0-9]+$/ {f+=$2} /^ +Skipped: +[0-9]+$/ {s+=$2}
  END {printf "%d passed, %d failed, %d skipped", p, f, s}' "$log" || true)"
# The failures again at the very end, so a log cut to its tail still names them: each "Failed <test>" block up to the
# next test's result line, at most 40 lines each.
failures="$(awk '/^  Failed [^ ]/ {on=1; n=0} /^  (Passed|Skipped) [^ ]/ {on=0} on && n < 40 {print; n++} /^Test Run/ {on=0}' "$log" || true)"
if [[ -n "$failures" ]]; then
  echo
  echo "failed tests:"
  printf '%s\n' "$failures"
fi
echo
echo "tests: $summary"
exit "$status"
