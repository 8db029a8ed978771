#!/usr/bin/env bash
# Re-pricing a month of one tenant, end to end against a private Azurite and the real service (standalone).
# Records the same N events (default 20000, one month, 50 users in 5 teams) for three tenants through
# POST /api/usage: "old1" and "old2" at list prices, then a policy changes their prices; "fresh" is recorded
# after the same policy is in force (the reference: pricing the same events fresh). Then:
#   - old1: dry run, apply, rerun of POST /api/repricing, each timed;
#   - old2: apply, the service killed (SIGKILL) halfway through it, restarted, apply again;
#   - fresh: an apply that must change nothing (it computes its rollups from the same rows, as the others' did);
# and checks that every view of old1 and old2 (tenant/team/user usage by day and model, i.e. the day summaries
# and the team/tenant rows, and the day/month rollups) equals fresh's. Times are reported with the ingest of the
# same events as the baseline (a ratio), and the load average, because the machine is shared.
#   bench/repricing-bench.sh [EVENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
events="${1:-20000}"
ensure_node_tools
read -r blob queue table port <<<"$(free_loopback_ports 4)"
start_azurite "$blob" "$queue" "$table"
app="$(mktemp -d)"
trap 'stop_azurite; rm -rf "$app"' EXIT
export AzureWebJobsStorage="$(azurite_connection_string "$blob" "$queue" "$table")"
export LLMCOST_ADMIN_KEY="bench-admin-key-0123456789" PORT="$port" LlmCost__Hosting__RunBackgroundFunctions=false
dotnet build src/LlmCost.Functions -c Release --nologo -v q >/dev/null
# Run from a copy, so a build in the worktree meanwhile cannot swap the service's files (it is restarted mid-run).
cp -r src/LlmCost.Functions/bin/Release/net10.0/. "$app/"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$port" "$events" "$app/LlmCost.Functions.dll" <<'PY'
import json, os, random, subprocess, sys, threading, time, urllib.error, urllib.request
port, n, dll = sys.argv[1], int(sys.argv[2]), sys.argv[3]
base = f"http://127.0.0.1:{port}/api/"
key = os.environ["LLMCOST_ADMIN_KEY"]
log = open("/tmp/repricing-bench-service.log", "a")

def start():
    proc = subprocess.Popen(["dotnet", dll], stdout=log, stderr=log)
    for _ in range(600):
        try:
            urllib.request.urlopen(base + "health", timeout=5).read()
            return proc
        except Exception:
            time.sleep(0.5)
    raise SystemExit("service did not start")

retried = 0

def call(method, path, body=None):
    """One request as a client makes it: a 503 with Retry-After (storage overloaded) is sent again after the wait."""
    global retried
    for attempt in range(1, 31):
        req = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(), method=method,
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=3600) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as ex:
            if ex.code != 503 or ex.headers.get("Retry-After") is None or attempt == 30:
                raise
            retried += 1
            time.sleep(min(int(ex.headers["Retry-After"]), 30))

rnd = random.Random(42)
now = time.gmtime()
year, month = (now.tm_year, now.tm_mon - 1) if now.tm_mon > 1 else (now.tm_year - 1, 12)
period = f"{year:04d}-{month:02d}"
after = f"{year + (month == 12):04d}-{month % 12 + 1:02d}-01"
events = []
for i in range(n):
    user = rnd.randrange(50)
    events.append({"event_id": f"ev{i:06d}", "user_id": f"u{user}", "team_id": f"t{user % 5}",
                   "provider": "openai", "model": rnd.choice(["gpt-4o", "gpt-4o-mini", "gpt-4o-mini"]),
                   "timestamp": f"{period}-{1 + rnd.randrange(28):02d}T{rnd.randrange(24):02d}:{rnd.randrange(60):02d}:00Z",
                   "usage": {"input_tokens": rnd.randrange(10, 20000), "output_tokens": rnd.randrange(1, 4000)}})
policy = {"discount_percent": 20, "effective_from": f"{period}-01T00:00:00Z",
          "models": [{"model": "gpt-4o-mini", "prices": {"input_mtok": 0.1, "output_mtok": 0.5}}]}

def record(tenant):
    t = time.time()
    for i in range(0, n, 500):
        call("POST", "usage", {"events": [dict(e, tenant_id=tenant) for e in events[i:i + 500]]})
    elapsed = time.time() - t
    # Reads wait for the projector only up to the 5 s read barrier: wait until every event is projected, so a
    # loaded box cannot make the reference (or a repricing) start from part of the month.
    deadline = time.time() + 600
    while call("GET", f"tenants/{tenant}/usage?from={period}-01&to={after}")["total"]["events"] != n:
        if time.time() > deadline:
            raise SystemExit(f"{tenant}: the events were not projected within 10 minutes")
        time.sleep(1)
    return elapsed

def reprice(tenant, dry=False):
    t = time.time()
    body = call("POST", "repricing", {"tenant_id": tenant, "period": period, "dry_run": dry})
    return body, time.time() - t

def views(tenant):
    """Every view of the month, with the tenant's name taken out so two tenants compare equal."""
    paths = [f"tenants/{tenant}/usage?from={period}-01&to={after}&granularity=day&group_by=model",
             f"tenants/{tenant}/usage?from={period}-01&to={after}&granularity=hour",
             f"rollups?tenant_id={tenant}&granularity=day&from={period}-01&to={period}-28",
             f"rollups?tenant_id={tenant}&granularity=month&from={period}-01&to={period}-28"]
    paths += [f"teams/t{t}/usage?tenant_id={tenant}&from={period}-01&to={after}&granularity=day&group_by=model" for t in range(5)]
    paths += [f"users/u{u}/usage?tenant_id={tenant}&from={period}-01&to={after}&granularity=day&group_by=model" for u in range(50)]
    out = []
    for p in paths:
        out.append(json.dumps(call("GET", p), sort_keys=True).replace(tenant, "T"))
    return out

def total(tenant):
    return call("GET", f"tenants/{tenant}/usage?from={period}-01&to={after}")["total"]["cost_usd"]

service = start()
try:
    ingest1 = record("old1")
    ingest2 = record("old2")
    for tenant in ("old1", "old2", "fresh"):
        call("PUT", f"pricing/policies/{tenant}", policy)
    ingest3 = record("fresh")
    ingest = (ingest1 + ingest2 + ingest3) / 3
    fresh_apply, fresh_s = reprice("fresh")
    reference = views("fresh")

    dry, dry_s = reprice("old1", dry=True)
    applied, apply_s = reprice("old1")
    rerun, rerun_s = reprice("old1")
    old1_equal = views("old1") == reference

    # old2: killed halfway through its apply (by wall time, half of old1's), restarted, applied again.
    outcome = {}
    def run():
        try:
            outcome["body"] = call("POST", "repricing", {"tenant_id": "old2", "period": period, "dry_run": False})
        except Exception as ex:
            outcome["error"] = type(ex).__name__
    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(apply_s / 2)
    service.kill()
    service.wait()
    thread.join()
    service = start()
    resumed, resumed_s = reprice("old2")
    old2_equal = views("old2") == reference
    rerun2, _ = reprice("old2")

    print(f"events {n} per tenant; ingest (baseline, mean of 3 tenants) {ingest:.1f} s = {n / ingest:.0f} events/s")
    print(f"old1: dry run {dry_s:.1f} s ({dry_s / ingest:.2f}x ingest, {n / dry_s:.0f} events/s); apply {apply_s:.1f} s "
          f"({apply_s / ingest:.2f}x ingest, {n / apply_s:.0f} events/s, {applied['partitions_rewritten']} partitions, {applied['changed']} events changed); "
          f"rerun {rerun_s:.1f} s ({rerun['partitions_already_done']} partitions already done, {rerun['changed']} changed)")
    print(f"old1: old total {dry['old_cost_usd']} USD, new total {dry['new_cost_usd']} USD, fresh tenant total {total('fresh')} USD, "
          f"old1 after apply {total('old1')} USD; every view equal to fresh: {old1_equal}")
    print(f"old2: killed after {apply_s / 2:.1f} s ({'request died: ' + outcome['error'] if 'error' in outcome else 'request had finished'}); "
          f"resumed apply {resumed_s:.1f} s ({resumed['partitions_already_done']} partitions already done, {resumed['changed']} events still to change); "
          f"every view equal to fresh: {old2_equal}; a further rerun changed {rerun2['changed']}")
    print(f"fresh: apply (rollups only) {fresh_s:.1f} s, {fresh_apply['changed']} changed; {retried} requests answered 503 and sent again")
    if not (old1_equal and old2_equal and fresh_apply["changed"] == 0 and rerun["changed"] == 0 and rerun2["changed"] == 0):
        raise SystemExit("MISMATCH")
finally:
    service.kill()
    service.wait()
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
