#!/usr/bin/env bash
# Re-pricing a month of one tenant, end to end against a private Azurite and the real service (standalone):
# records N events (default 20000) over a month through POST /api/usage, changes the tenant's prices with a
# policy, then times the dry run, the apply and a rerun of POST /api/repricing and checks that the repriced
# tenant total equals the dry run's new total. Times are reported with the ingest of the same events as the
# baseline (a ratio), and the load average, because the machine is shared.
#   bench/repricing-bench.sh [EVENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
events="${1:-20000}"
ensure_node_tools
read -r blob queue table port <<<"$(free_loopback_ports 4)"
start_azurite "$blob" "$queue" "$table"
export AzureWebJobsStorage="$(azurite_connection_string "$blob" "$queue" "$table")"
export LLMCOST_ADMIN_KEY="bench-admin-key-0123456789" PORT="$port" LlmCost__Hosting__RunBackgroundFunctions=false
dotnet build src/LlmCost.Functions -c Release --nologo -v q >/dev/null
dotnet src/LlmCost.Functions/bin/Release/net10.0/LlmCost.Functions.dll >/tmp/repricing-bench-service.log 2>&1 &
service=$!
trap 'kill -TERM $service 2>/dev/null || true; wait $service 2>/dev/null || true; stop_azurite' EXIT
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/api/health" >/dev/null && break; sleep 0.5; done
python3 - "$port" "$events" <<'PY'
import json, random, sys, time, urllib.request, os
port, n = sys.argv[1], int(sys.argv[2])
base = f"http://127.0.0.1:{port}/api/"
key = os.environ["LLMCOST_ADMIN_KEY"]
def call(method, path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method=method,
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=3600) as r:
        return json.loads(r.read())
rnd = random.Random(42)
now = time.gmtime()
year, month = (now.tm_year, now.tm_mon - 1) if now.tm_mon > 1 else (now.tm_year - 1, 12)
events = []
for i in range(n):
    user = rnd.randrange(50)
    events.append({"event_id": f"ev{i:06d}", "tenant_id": "bench", "user_id": f"u{user}", "team_id": f"t{user % 5}",
                   "provider": "openai", "model": rnd.choice(["gpt-4o", "gpt-4o-mini", "gpt-4o-mini"]),
                   "timestamp": f"{year:04d}-{month:02d}-{1 + rnd.randrange(28):02d}T{rnd.randrange(24):02d}:{rnd.randrange(60):02d}:00Z",
                   "usage": {"input_tokens": rnd.randrange(10, 20000), "output_tokens": rnd.randrange(1, 4000)}})
t = time.time()
for i in range(0, n, 500):
    call("POST", "usage", {"events": events[i:i + 500]})
ingest = time.time() - t
call("PUT", "pricing/policies/bench", {"discount_percent": 20, "effective_from": f"{year:04d}-{month:02d}-01T00:00:00Z",
     "models": [{"model": "gpt-4o-mini", "prices": {"input_mtok": 0.1, "output_mtok": 0.5}}]})
period = f"{year:04d}-{month:02d}"
t = time.time(); dry = call("POST", "repricing", {"tenant_id": "bench", "period": period, "dry_run": True}); dry_s = time.time() - t
t = time.time(); applied = call("POST", "repricing", {"tenant_id": "bench", "period": period, "dry_run": False}); apply_s = time.time() - t
t = time.time(); rerun = call("POST", "repricing", {"tenant_id": "bench", "period": period, "dry_run": False}); rerun_s = time.time() - t
req = urllib.request.Request(base + f"tenants/bench/usage?from={period}-01&to={year + (month == 12):04d}-{month % 12 + 1:02d}-01",
                             headers={"Authorization": f"Bearer {key}"})
with urllib.request.urlopen(req, timeout=600) as r:
    stored = json.loads(r.read())["total"]["cost_usd"]
print(f"events {n}: ingest {ingest:.1f} s; dry run {dry_s:.1f} s ({dry_s / ingest:.2f}x ingest); apply {apply_s:.1f} s "
      f"({apply_s / ingest:.2f}x ingest, {applied['partitions_rewritten']} partitions, {applied['changed']} events changed); "
      f"rerun {rerun_s:.1f} s ({rerun['partitions_already_done']} partitions already done, {rerun['changed']} changed)")
print(f"old total {dry['old_cost_usd']} USD, new total {dry['new_cost_usd']} USD, stored tenant total after apply {stored} USD: "
      f"{'EQUAL' if stored == dry['new_cost_usd'] else 'DIFFERENT'}")
PY
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
