#!/usr/bin/python3
"""A/B of the dashboard overview's server reads on one running service and one seeded tenant, interleaved (ABBA):
the overview's three breakdown requests over whole UTC days (read from the tenant's day rows) vs the same requests
with ranges starting one hour later (not whole days: summed from every user's hour copies, as every tenant read was
before day rows). Usage: LLMCOST_API_KEY=... dashboard_overview_ab.py <base url> <tenant> <rounds>; prints one JSON
line with both medians, their ratio and the load average before and after. Seed the tenant first (dashboard_load.py)."""
import sys, time, urllib.request, statistics, json, os
from datetime import datetime, timedelta, timezone
base, tenant, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
t = datetime.now(timezone.utc).date()
def q(f, to, by, gran):
    return f"{base}/api/usage/breakdown?tenant_id={tenant}&from={f}&to={to}&by={by}&granularity={gran}"
def overview(shift):
    s = "T01:00:00Z" if shift else "T00:00:00Z"
    return [q(f"{t - timedelta(days=29)}{s}", f"{t + timedelta(days=1)}T00:00:00Z", "model", "day"),
            q(f"{t}{s}", f"{t + timedelta(days=1)}T00:00:00Z", "provider", "day"),
            q(f"{t.replace(day=1)}{s}", f"{t + timedelta(days=1)}T00:00:00Z", "provider", "month")]
def timed(url):
    r = urllib.request.Request(url, headers={"Authorization": "Bearer " + os.environ["LLMCOST_API_KEY"]})
    s = time.perf_counter(); body = json.loads(urllib.request.urlopen(r, timeout=300).read()); return (time.perf_counter() - s) * 1000, body
res = {"day_rows": [], "copies": []}
load = [open("/proc/loadavg").read().split()[:3]]
for i in range(rounds + 1):
    for name, shift in (("day_rows", False), ("copies", True)) if i % 2 == 0 else (("copies", True), ("day_rows", False)):
        total = 0; bodies = []
        for u in overview(shift):
            ms, b = timed(u); total += ms; bodies.append(b)
        if i > 0: res[name].append(total)
        if i == 1: print(name, "range total", bodies[0]["total"]["cost_usd"], bodies[0]["total"]["events"], file=sys.stderr)
load.append(open("/proc/loadavg").read().split()[:3])
out = {k: {"median_ms": round(statistics.median(v)), "runs": [round(x) for x in v]} for k, v in res.items()}
out["ratio_copies_over_day_rows"] = round(statistics.median(res["copies"]) / statistics.median(res["day_rows"]), 2)
out["load_before_after"] = load
print(json.dumps(out))
