#!/usr/bin/python3
"""Seeds a tenant (USERS users x DAYS days of events) through POST /api/usage, waits for the projector, then opens
the dashboard's overview in headless Chromium (Debian's, through Selenium and chromedriver) RUNS times and prints
one JSON line: the time from navigation to every panel rendered (the page sets body[data-loaded]), for that tenant
and, as the baseline of the same run, for a tenant with one user and one day of events."""
import json, os, random, statistics, sys, time, urllib.error, urllib.request
from datetime import datetime, timedelta, timezone

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

base, key = sys.argv[1].rstrip("/"), os.environ["LLMCOST_API_KEY"]
users, days, per_day, runs = (int(os.environ.get(n, d)) for n, d in (("USERS", 1000), ("DAYS", 30), ("EVENTS_PER_USER_DAY", 2), ("RUNS", 5)))
# The share of user-days with events (1 = every user every day); every user still has events on some days.
active = float(os.environ.get("ACTIVE_SHARE", "1"))
models = [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-20250514"), ("google", "gemini-2.0-flash")]


def call(method, path, body=None):
    # Retried on 503 (storage slow under load): event ids are fixed, so a resent batch is answered "duplicate".
    for attempt in range(10):
        try:
            return call_once(method, path, body)
        except urllib.error.HTTPError as e:
            if e.code != 503 or attempt == 9 or path == "/api/health":
                raise
            time.sleep(2)


def call_once(method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.loads(r.read() or b"null")


def seed(tenant, n_users, n_days):
    rng, now, batch, sent = random.Random(42), datetime.now(timezone.utc), [], 0
    for d in range(n_days):
        day = (now - timedelta(days=d)).replace(hour=0, minute=0, second=0, microsecond=0)
        for u in range(n_users):
            if n_users > 1 and rng.random() >= active:
                continue
            for k in range(per_day):
                at = min(day + timedelta(seconds=rng.randrange(86400)), now - timedelta(minutes=1))
                provider, model = models[rng.randrange(len(models))]
                batch.append({"event_id": f"{tenant}-{d}-{u}-{k}", "tenant_id": tenant, "user_id": f"user-{u:04d}",
                              "team_id": f"team-{u % 20:02d}", "provider": provider, "model": model,
                              "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                              "usage": {"input_tokens": rng.randrange(100, 5000), "output_tokens": rng.randrange(10, 800)}})
                if len(batch) == 500:
                    call("POST", "/api/usage", {"events": batch}); sent += len(batch); batch = []
    if batch:
        call("POST", "/api/usage", {"events": batch}); sent += len(batch)
    while True:  # the projector must have applied everything before the page is timed
        # Rarely: on a loaded machine a health check that outlives its 3 s budget counts as a storage failure, and
        # frequent ones would keep the storage breaker open and starve the projector this loop waits for.
        time.sleep(15)
        try:
            health = call("GET", "/api/health")
        except urllib.error.HTTPError:
            continue
        if (health.get("projection") or {}).get("pending", 0) == 0:
            return sent


def open_browser():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("LLMCOST_CHROMIUM", "/usr/bin/chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1100"):
        options.add_argument(a)
    return webdriver.Chrome(service=Service(os.environ.get("LLMCOST_CHROMEDRIVER", "/usr/bin/chromedriver")), options=options)


def time_overview(browser, tenant):
    samples = []
    for _ in range(runs + 1):  # the first load warms the app's code paths and the browser's cache; not counted
        browser.get(f"{base}/dashboard/#tenant={tenant}&preset=30d&by=model&granularity=day")
        browser.execute_script("sessionStorage.clear()")
        browser.refresh()
        browser.find_element(By.ID, "key").send_keys(key)
        start = time.perf_counter()
        browser.find_element(By.CSS_SELECTOR, "#keyform button").click()
        while not browser.find_element(By.TAG_NAME, "body").get_attribute("data-loaded"):
            time.sleep(0.01)
        samples.append((time.perf_counter() - start) * 1000)
    return samples[1:]


t0 = time.time()
events = seed("bench-big", users, days)
seed_seconds = time.time() - t0
seed("bench-small", 1, 1)
browser = open_browser()
try:
    big, small = time_overview(browser, "bench-big"), time_overview(browser, "bench-small")
finally:
    browser.quit()
print(json.dumps({"users": users, "days": days, "events": events, "seed_seconds": round(seed_seconds, 1),
                  "overview_ms": {"median": round(statistics.median(big)), "max": round(max(big)), "runs": [round(s) for s in big]},
                  "baseline_one_user_one_day_ms": {"median": round(statistics.median(small)), "max": round(max(small))},
                  "ratio_median": round(statistics.median(big) / statistics.median(small), 2)}))
