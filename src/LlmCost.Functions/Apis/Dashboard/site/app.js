// The dashboard: a client of the public API. Every figure is an API decimal string (money is never summed or
// computed with floats here); the key lives in this tab's sessionStorage and travels only in the Authorization
// header; filters live in the address's fragment, so a view can be shared without the key.
import * as money from "./money.js";

const KEY_SLOT = "llmcost.dashboard.key";
const ANOMALY_KINDS = new Set(["cost_anomaly", "token_spike", "error_rate_spike", "unpriced_model", "reported_cost_mismatch"]);
const PALETTE = ["#2457c5", "#d1495b", "#edae49", "#00798c", "#66a182", "#8e6c8a", "#30638e", "#e07a5f", "#3d405b", "#81b29a", "#f2cc8f", "#6d597a"];
const FILTERS = ["preset", "from", "to", "tenant", "team", "user", "provider", "model", "app", "by", "granularity", "tz"];
const BROWSER_ZONE = (() => { try { return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch { return "UTC"; } })();
const $ = (id) => document.getElementById(id);

let me = null;          // { role, tenant_id, user_id, key_id } of the key
let view = null;        // the breakdown answer the page shows (exported as CSV)
let chart = null;
let eventsState = null; // { user, token }
let zone = "UTC";       // the IANA zone days and hours are counted in (the tz filter; the browser's by default)

// ---------- API ----------

class ApiError extends Error {
  constructor(status, problem) { super(problem?.detail || problem?.title || `HTTP ${status}`); this.status = status; this.problem = problem; }
}

function key() { return sessionStorage.getItem(KEY_SLOT); }

async function call(method, path, params, body) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params ?? {})) if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  const headers = { Authorization: `Bearer ${key()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store", credentials: "omit" });
  if (!response.ok) {
    let problem = null;
    try { problem = await response.json(); } catch { /* not JSON */ }
    throw new ApiError(response.status, problem);
  }
  return response;
}
const get = async (path, params) => (await call("GET", path, params)).json();
const post = async (path, params, body) => (await call("POST", path, params, body ?? {})).json();

async function download(path, params, fallbackName) {
  const response = await call("GET", path, params);
  const blob = await response.blob();
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  save(blob, match ? decodeURIComponent(match[1]) : fallbackName);
}

function save(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

// ---------- filters in the URL ----------

/** The zone's calendar day (YYYY-MM-DD) of an instant. */
function dayIn(ms) { return new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(ms)); }
function today() { return dayIn(Date.now()); }

/** The zone's offset from UTC at an instant, in ms. */
function offsetMs(ms) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit" }).formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second) - Math.floor(ms / 1000) * 1000;
}

/** The instant (ISO, UTC) a calendar day starts in the zone: what the API gets, so days are the zone's days. */
function startOf(day) {
  const wall = Date.parse(day + "T00:00:00Z");
  let t = wall - offsetMs(wall);
  t = wall - offsetMs(t); // once more: the offset at the day's start, not at UTC midnight (DST)
  return new Date(t).toISOString().replace(".000Z", "Z");
}

/** [from, to + 1 day) of the zone's days as API parameters. */
function rangeParams(from, toInclusive) { return { from: startOf(from), to: startOf(addDays(toInclusive, 1)), tz: zone }; }
function addDays(day, n) { const d = new Date(day + "T00:00:00Z"); d.setUTCDate(d.getUTCDate() + n); return d.toISOString().slice(0, 10); }
function monthStart(day) { return day.slice(0, 8) + "01"; }

function presetRange(preset) {
  const t = today();
  switch (preset) {
    case "today": return [t, t];
    case "7d": return [addDays(t, -6), t];
    case "month": return [monthStart(t), t];
    case "lastmonth": { const end = addDays(monthStart(t), -1); return [monthStart(end), end]; }
    default: return [addDays(t, -29), t];
  }
}

function readFilters() {
  const p = new URLSearchParams(location.hash.slice(1));
  const f = Object.fromEntries(FILTERS.map((k) => [k, p.get(k) ?? ""]));
  f.tz ||= BROWSER_ZONE;
  zone = f.tz;
  if (!f.preset) f.preset = f.from || f.to ? "custom" : "30d";
  if (f.preset !== "custom") [f.from, f.to] = presetRange(f.preset);
  if (!f.to) f.to = today();
  if (!f.from) f.from = addDays(f.to, -29);
  f.by ||= "model";
  f.granularity ||= "day";
  if (me && me.role !== "admin") f.tenant = me.tenant_id;
  if (me?.user_id) f.user = me.user_id;
  return f;
}

function writeFilters(f) {
  const p = new URLSearchParams();
  for (const k of FILTERS) {
    if (!f[k]) continue;
    if ((k === "from" || k === "to") && f.preset !== "custom") continue;
    p.set(k, f[k]);
  }
  const hash = "#" + p.toString();
  if (location.hash !== hash) location.hash = hash; else render();
}

function scopeParams(f) {
  return { tenant_id: f.tenant, user_id: f.user, team_id: f.team, provider: f.provider, model: f.model, app: f.app };
}

// ---------- rendering helpers ----------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

/** A money figure: the exact API string in data-usd, the rounded display as text. */
function usd(text) { return el("span", { class: "money", "data-usd": text, title: `$${text}` }, money.usd(text)); }
function n(value) { return Number(value ?? 0).toLocaleString("en-US"); }
function pct(num, den, digits = 1) { return den ? `${((Number(num) / Number(den)) * 100).toFixed(digits)}%` : "–"; }

function tile(id, label, value, sub) {
  return el("div", { class: "tile", "data-tile": id }, el("div", { class: "label" }, label), el("div", { class: "value" }, value), sub ? el("div", { class: "sub" }, sub) : null);
}

function panelError(container, error) {
  container.replaceChildren(el("p", { class: "error", "data-error": error.status ?? "" }, error.status === 403 ? "This key may not see this." : `Could not load: ${error.message}`));
}

function status(text) { $("status").textContent = text; }

function sortable(table) {
  table.querySelectorAll("th").forEach((th, index) => th.addEventListener("click", () => {
    const dir = th.getAttribute("aria-sort") === "descending" ? "ascending" : "descending";
    table.querySelectorAll("th").forEach((h) => h.removeAttribute("aria-sort"));
    th.setAttribute("aria-sort", dir);
    const rows = [...table.tBodies[0].rows];
    const numeric = th.classList.contains("num");
    rows.sort((a, b) => {
      const x = a.cells[index].dataset.sort ?? a.cells[index].textContent;
      const y = b.cells[index].dataset.sort ?? b.cells[index].textContent;
      const c = numeric ? money.compare(x || "0", y || "0") : x.localeCompare(y);
      return dir === "ascending" ? c : -c;
    });
    table.tBodies[0].append(...rows);
  }));
}

// ---------- panels ----------

async function renderOverview(f) {
  const tiles = $("tiles");
  const scope = scopeParams(f);
  const t = today();
  try {
    const [range, day, month] = await Promise.all([
      view ? Promise.resolve(view) : get("/api/usage/breakdown", { ...scope, ...rangeParams(f.from, f.to), by: f.by, granularity: f.granularity }),
      get("/api/usage/breakdown", { ...scope, ...rangeParams(t, t), by: "provider", granularity: "day" }),
      get("/api/usage/breakdown", { ...scope, ...rangeParams(monthStart(t), t), by: "provider", granularity: "month" }),
    ]);
    const total = range.total;
    const avg = money.divide(total.cost_usd, total.events);
    const cacheBase = total.input_tokens;
    tiles.replaceChildren(
      tile("today", `Spend today (${zone})`, usd(day.total.cost_usd), `${n(day.total.events)} requests`),
      tile("month", "Spend this month", usd(month.total.cost_usd), `${n(month.total.events)} requests`),
      tile("forecast", "Forecast to month end", el("span", { id: "forecast-value" }, "…"), el("span", { id: "forecast-sub" }, "")),
      tile("range", "Spend in range", usd(total.cost_usd), `${f.from} – ${f.to}`),
      tile("requests", "Requests", n(total.events), `${n(total.error_events)} errors`),
      tile("tokens", "Tokens by class", `${n(total.input_tokens)} in`,
        `${n(total.output_tokens)} out · ${n(total.cache_read_tokens)} cache read · ${n(total.cache_write_tokens)} cache write · ${n(total.reasoning_tokens)} reasoning`),
      tile("errors", "Error rate", pct(total.error_events, total.events), `${n(total.error_events)} of ${n(total.events)}`),
      tile("cache", "Cache-hit share", pct(total.cache_read_tokens, cacheBase), "cache-read of input tokens"),
      tile("avg", "Avg cost / request", avg === null ? "–" : usd(avg), "priced and unpriced requests"),
      tile("unpriced", "Unpriced calls", el("span", { class: total.unpriced_events > 0 ? "warn" : "" }, n(total.unpriced_events)),
        total.unpriced_events > 0 ? "cost unknown: not counted as zero" : "every call priced"),
    );
    $("overview-note").textContent = range.archived_before
      ? `Days before ${range.archived_before.slice(0, 10)} are past raw retention and not in the breakdown.` : "";
    renderForecast(f).catch(() => { $("forecast-value").textContent = "–"; });
  } catch (e) { panelError(tiles, e); }
}

/** The forecast comes from a monthly USD budget on the viewed scope (the API forecasts budgets). */
async function renderForecast(f) {
  const list = await get("/api/budgets", { tenant_id: f.tenant });
  const scope = f.user ? ["user", f.user] : f.team ? ["team", f.team] : ["tenant", f.tenant];
  const budget = list.budgets.find((b) => b.period === "monthly" && b.amount_usd && b.scope === scope[0] && b.scope_id === scope[1]);
  if (!budget) {
    $("forecast-value").textContent = "–";
    $("forecast-sub").textContent = `no monthly budget on this ${scope[0]} to forecast`;
    return;
  }
  const s = await get(`/api/budgets/${encodeURIComponent(budget.budget_id)}/status`);
  $("forecast-value").replaceChildren(s.forecast_usd ? usd(s.forecast_usd) : "–");
  $("forecast-sub").replaceChildren(`of ${money.usd(s.amount_usd)} (budget ${budget.name || budget.budget_id})`);
}

function label(key) { return key ?? "(none)"; }

async function renderTimeline(f) {
  const caption = $("timeline-caption");
  try {
    view ??= await get("/api/usage/breakdown", { ...scopeParams(f), ...rangeParams(f.from, f.to), by: f.by, granularity: f.granularity });
    caption.textContent = `by ${f.by}, per ${f.granularity}, ${view.time_zone}`;
    const periods = [...new Set(view.series.map((p) => p.period_start))].sort();
    const keys = view.groups.map((g) => g.key);
    const index = new Map(view.series.map((p) => [`${p.period_start}|${p.key}`, p]));
    const datasets = keys.map((k, i) => ({
      label: label(k),
      key: k,
      backgroundColor: PALETTE[i % PALETTE.length],
      // Bar heights only; labels and tooltips show the API's strings.
      data: periods.map((period) => { const p = index.get(`${period}|${k}`); return p ? Number(p.cost_usd) : 0; }),
      exact: periods.map((period) => index.get(`${period}|${k}`)?.cost_usd ?? "0"),
    }));
    const labels = periods.map((p) => f.granularity === "hour" ? p.slice(0, 13).replace("T", " ") + ":00" : f.granularity === "month" ? p.slice(0, 7) : p.slice(0, 10));
    if (!window.Chart) throw new Error("chart library did not load");
    chart?.destroy();
    chart = new window.Chart($("chart"), {
      type: "bar",
      data: { labels, datasets },
      options: {
        animation: false,
        maintainAspectRatio: false,
        responsive: true,
        scales: { x: { stacked: true, title: { display: true, text: `${f.granularity} (${view.time_zone})` } }, y: { stacked: true, title: { display: true, text: "USD" } } },
        plugins: { tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${money.usd(c.dataset.exact[c.dataIndex])}` } } },
        onClick: (event, elements) => {
          if (!elements.length) return;
          const { datasetIndex, index: i } = elements[0];
          drill(f, datasets[datasetIndex].key, periods[i]);
        },
      },
    });
    $("chart").dataset.periods = String(periods.length);
    $("chart").dataset.groups = String(keys.length);
  } catch (e) { panelError($("timeline").querySelector(".chart"), e); }
}

function periodRange(f, periodStart) {
  const day = periodStart.slice(0, 10);
  if (f.granularity === "month") { const next = addDays(day, 32); return [day, addDays(monthStart(next), -1)]; }
  return [day, day];
}

/** A provider, model, team or app narrows the filters (and groups one level finer); a user opens their request log. */
function drill(f, key, periodStart) {
  const next = { ...f };
  if (periodStart) { [next.from, next.to] = periodRange(f, periodStart); next.preset = "custom"; if (f.granularity !== "hour") next.granularity = "day"; }
  if (f.by === "user") {
    // The log opens for the clicked period; the filters stay, so closing it returns to the same view.
    openEvents(key, next);
    return;
  }
  if (key === null) { writeFilters(next); return; }
  if (f.by === "provider") { next.provider = key; next.by = "model"; }
  else if (f.by === "model") { const slash = key.indexOf("/"); next.provider = key.slice(0, slash); next.model = key.slice(slash + 1); next.by = "user"; }
  else if (f.by === "team") { next.team = key; next.by = "user"; }
  else if (f.by === "app") { next.app = key; next.by = "model"; }
  else if (f.by === "key" && !periodStart) return; // there is no key filter: only a bar (a period) narrows
  writeFilters(next);
}

function renderBreakdown(f) {
  const table = $("breakdown-table");
  if (!view) return;
  $("breakdown-caption").textContent = `by ${f.by}: ${view.groups.length} groups, total ${money.usd(view.total.cost_usd)}`;
  const head = el("thead", null, el("tr", null,
    el("th", null, f.by), el("th", { class: "num" }, "Cost"), el("th", { class: "num" }, "Share"), el("th", { class: "num" }, "Requests"),
    el("th", { class: "num" }, "Input tokens"), el("th", { class: "num" }, "Output tokens"), el("th", { class: "num" }, "Unpriced"), el("th", { class: "num" }, "Errors")));
  const body = el("tbody", null, view.groups.map((g) => el("tr", { class: "drill", "data-key": g.key ?? "", onclick: () => drill(f, g.key, null) },
    el("td", null, label(g.key)),
    el("td", { class: "num", "data-sort": g.totals.cost_usd }, usd(g.totals.cost_usd)),
    el("td", { class: "num", "data-sort": g.cost_share ?? "0" }, g.cost_share === null ? "–" : `${money.format(money.parse(g.cost_share) * 100n, 2)}%`),
    el("td", { class: "num", "data-sort": String(g.totals.events) }, n(g.totals.events)),
    el("td", { class: "num", "data-sort": String(g.totals.input_tokens) }, n(g.totals.input_tokens)),
    el("td", { class: "num", "data-sort": String(g.totals.output_tokens) }, n(g.totals.output_tokens)),
    el("td", { class: "num", "data-sort": String(g.totals.unpriced_events) }, n(g.totals.unpriced_events)),
    el("td", { class: "num", "data-sort": String(g.totals.error_events) }, n(g.totals.error_events)))));
  const foot = el("tfoot", null, el("tr", null, el("th", null, "Total (from the API)"),
    el("th", { class: "num", "data-total": "cost" }, usd(view.total.cost_usd)), el("th", { class: "num" }, view.total.cost_usd === "0" ? "–" : "100%"),
    el("th", { class: "num" }, n(view.total.events)), el("th", { class: "num" }, n(view.total.input_tokens)), el("th", { class: "num" }, n(view.total.output_tokens)),
    el("th", { class: "num" }, n(view.total.unpriced_events)), el("th", { class: "num" }, n(view.total.error_events))));
  table.replaceChildren(head, body, foot);
  sortable(table);
}

/** The current view as CSV: the API's exact strings, one row per group and a total row from the API. */
function exportView(f) {
  if (!view) return;
  const q = (v) => { const s = String(v ?? ""); return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s; };
  // A group name is user data: one a spreadsheet would read as a formula is prefixed so it stays text.
  const name = (k) => (/^[=+\-@\t\r]/.test(k ?? "") ? "'" : "") + (k ?? "");
  const lines = [[f.by, "cost_usd", "cost_share", "requests", "input_tokens", "output_tokens", "unpriced_requests", "error_requests"].join(",")];
  for (const g of view.groups) lines.push([name(g.key), g.totals.cost_usd, g.cost_share ?? "", g.totals.events, g.totals.input_tokens, g.totals.output_tokens, g.totals.unpriced_events, g.totals.error_events].map(q).join(","));
  lines.push(["TOTAL", view.total.cost_usd, view.total.cost_usd === "0" ? "" : "1", view.total.events, view.total.input_tokens, view.total.output_tokens, view.total.unpriced_events, view.total.error_events].map(q).join(","));
  save(new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv" }), `llmcost-${f.tenant}-${f.by}-${f.from}-${f.to}.csv`);
}

async function openEvents(user, f) {
  eventsState = { user, token: null, f };
  $("events").hidden = false;
  $("events-caption").textContent = `${user}, ${f.from} – ${f.to} (${zone}): every call of the user in the range`;
  $("events-table").replaceChildren();
  try {
    const totals = await get(`/api/users/${encodeURIComponent(user)}/usage`, { tenant_id: f.tenant, from: startOf(f.from), to: startOf(addDays(f.to, 1)) });
    const t = totals.total;
    $("events-totals").replaceChildren(
      tile("events-cost", "Cost (server total)", usd(t.cost_usd)), tile("events-count", "Requests", n(t.events)),
      tile("events-unpriced", "Unpriced", n(t.unpriced_events)), tile("events-errors", "Errors", n(t.error_events)));
    await moreEvents();
    $("events").scrollIntoView({ block: "start" });
  } catch (e) { panelError($("events-totals"), e); }
}

async function moreEvents() {
  const { user, token, f } = eventsState;
  const page = await get(`/api/users/${encodeURIComponent(user)}/events`, { tenant_id: f.tenant, from: startOf(f.from), to: startOf(addDays(f.to, 1)), page_size: 50, continuation_token: token });
  const table = $("events-table");
  if (!table.tHead) table.append(el("thead", null, el("tr", null, ["Time (UTC)", "Event", "Provider", "Model", "Team", "App", "Status"].map((h) => el("th", null, h)),
    ["Input", "Output", "Cost"].map((h) => el("th", { class: "num" }, h)))), el("tbody"));
  for (const e of page.events) {
    table.tBodies[0].append(el("tr", { "data-event": e.event_id },
      el("td", null, e.timestamp.replace("T", " ").slice(0, 19)), el("td", null, e.event_id), el("td", null, e.provider), el("td", null, e.model),
      el("td", null, e.team_id ?? ""), el("td", null, e.app ?? ""), el("td", null, e.status),
      el("td", { class: "num" }, n(e.usage.input_tokens)), el("td", { class: "num" }, n(e.usage.output_tokens)),
      el("td", { class: "num" }, e.priced ? usd(e.cost_usd) : el("span", { class: "warn", title: e.unpriced_reason ?? "" }, "unpriced"))));
  }
  eventsState.token = page.continuation_token;
  $("events-more").hidden = !page.continuation_token;
}

function remaining(status) { return status.remaining_usd ?? null; }

/** Projected exhaustion: the day the service's forecast (trend and day of week, from the recorded daily spend) reaches the limit. */
function exhaustion(s) {
  if (!s.amount_usd || !s.period_start || !s.period_end) return "–";
  if (money.compare(s.spent_usd, s.amount_usd) >= 0) return "reached";
  return s.forecast_detail?.exhaustion_date ?? "not this period";
}

async function renderBudgets(f) {
  const table = $("budgets-table");
  try {
    const [list, freezes] = await Promise.all([get("/api/budgets", { tenant_id: f.tenant }), get("/api/budgets/freezes", { tenant_id: f.tenant })]);
    const statuses = await Promise.all(list.budgets.map((b) => get(`/api/budgets/${encodeURIComponent(b.budget_id)}/status`).catch(() => null)));
    // A tenant freeze is stored as scope_id "*": it covers the tenant whatever id its budgets were given.
    const freezeKey = (scope, id) => (scope === "tenant" ? "tenant|*" : `${scope}|${id}`);
    const frozen = new Set(freezes.freezes.map((z) => freezeKey(z.scope, z.scope_id)));
    const admin = me.role === "admin";
    table.replaceChildren(
      el("thead", null, el("tr", null, ["Budget", "Scope", "Period"].map((h) => el("th", null, h)), ["Spent", "Limit", "Reserved", "Remaining", "Forecast"].map((h) => el("th", { class: "num" }, h)),
        el("th", null, "Use"), el("th", null, "Exhaustion (forecast)"), el("th", null, "Thresholds fired"), el("th", null, "Frozen"), admin ? el("th", null, "") : null)),
      el("tbody", null, list.budgets.map((b, i) => {
        const s = statuses[i];
        const use = s && b.amount_usd ? money.ratio(s.spent_usd, b.amount_usd) : 0;
        const width = `w${Math.min(100, Math.round(use * 10) * 10)}`;
        const isFrozen = frozen.has(freezeKey(b.scope, b.scope_id));
        return el("tr", { "data-budget": b.budget_id },
          el("td", null, b.name || b.budget_id), el("td", null, `${b.scope} ${b.scope_id}`), el("td", null, `${b.period} (${b.timezone})`),
          el("td", { class: "num" }, s ? usd(s.spent_usd) : "–"), el("td", { class: "num" }, b.amount_usd ? usd(b.amount_usd) : `${n(b.token_limit)} tokens`),
          el("td", { class: "num" }, s ? usd(s.reserved_usd) : "–"), el("td", { class: "num" }, s && remaining(s) ? usd(remaining(s)) : "–"),
          el("td", { class: "num" }, s?.forecast_usd ? usd(s.forecast_usd) : "–"),
          el("td", null, el("div", { class: "bar", title: `${(use * 100).toFixed(1)}%` }, el("span", { class: `${width}${use >= 1 ? " over" : ""}` }))),
          el("td", null, s ? exhaustion(s) : "–"),
          el("td", null, s && s.fired_alerts.length ? s.fired_alerts.join(", ") : `none of ${b.thresholds.join("/")}%`),
          el("td", { "data-frozen": String(isFrozen) }, isFrozen ? "frozen" : "no"),
          admin ? el("td", null, el("button", { type: "button", class: "secondary", "data-action": isFrozen ? "unfreeze" : "freeze",
            onclick: () => freeze(f, b, !isFrozen) }, isFrozen ? "Unfreeze" : "Freeze")) : null);
      })));
    $("freezes").textContent = freezes.freezes.length ? `Frozen: ${freezes.freezes.map((z) => `${z.scope} ${z.scope_id} (${z.reason ?? "no reason"})`).join("; ")}` : "Nothing is frozen.";
  } catch (e) { panelError(table, e); }
}

async function freeze(f, budget, on) {
  const reason = on ? "frozen from the dashboard" : null;
  try {
    await post(on ? "/api/budgets/freeze" : "/api/budgets/unfreeze", null, { tenant_id: budget.tenant_id, scope: budget.scope, scope_id: budget.scope_id, reason: reason ?? undefined });
    status(`${on ? "Froze" : "Unfroze"} ${budget.scope} ${budget.scope_id}`);
  } catch (e) { status(`Could not ${on ? "freeze" : "unfreeze"}: ${e.message}`); }
  await renderBudgets(f);
}

async function renderAlerts(f) {
  const list = $("alerts-list"), anomalies = $("anomalies-table");
  try {
    const { alerts } = await get("/api/alerts", { tenant_id: f.tenant, limit: 100 });
    list.replaceChildren(...(alerts.length ? alerts : [null]).map((a) => a === null ? el("li", null, "No alerts.") :
      el("li", { class: a.read ? "read" : "unread", "data-alert": a.alert_id },
        el("span", { class: "when" }, a.created_at.replace("T", " ").slice(0, 16)), el("span", { class: "kind" }, a.kind),
        el("span", { class: "msg" }, a.message),
        a.read ? el("span", { class: "when" }, "read") : el("button", { type: "button", class: "secondary", "data-action": "read", onclick: async () => {
          try { await post(`/api/alerts/${encodeURIComponent(a.alert_id)}/read`, { tenant_id: f.tenant }); } catch (e) { status(`Could not mark read: ${e.message}`); }
          await renderAlerts(f);
        } }, "Mark read"))));
    const found = alerts.filter((a) => ANOMALY_KINDS.has(a.kind));
    anomalies.replaceChildren(
      el("thead", null, el("tr", null, ["When", "Kind", "Scope", "Window", "Observed", "Baseline (median)", "MAD", "z", "What"].map((h) => el("th", null, h)))),
      el("tbody", null, found.length ? found.map((a) => el("tr", { "data-anomaly": a.alert_id },
        el("td", null, a.created_at.slice(0, 16).replace("T", " ")), el("td", null, a.kind), el("td", null, `${a.scope} ${a.scope_id}`),
        el("td", null, a.details?.window ?? ""), el("td", null, a.details?.observed ?? a.details?.error_rate ?? a.details?.unpriced_requests ?? a.details?.reported_cost_usd ?? ""),
        el("td", null, a.details?.baseline_median ?? a.details?.cost_usd ?? ""), el("td", null, a.details?.baseline_mad ?? ""), el("td", null, a.details?.z_score ?? ""),
        el("td", null, a.message))) : el("tr", null, el("td", { colspan: "9" }, "No anomalies."))));
  } catch (e) { panelError(list, e); anomalies.replaceChildren(); }
}

async function renderReports(f) {
  const list = $("reports-list");
  try {
    const { reports } = await get("/api/reports", { tenant_id: f.tenant });
    list.replaceChildren(...(reports.length ? reports : [null]).map((r) => r === null ? el("li", null, "No reports yet.") :
      el("li", { "data-report": r.path }, el("span", { class: "msg" }, r.path), el("span", { class: "when" }, `${n(r.size)} bytes`),
        el("button", { type: "button", class: "secondary", onclick: () => downloadReport(f, r) }, "Download"))));
  } catch (e) { panelError(list, e); }
}

async function downloadReport(f, r) {
  const name = r.path.split("/").pop();
  try {
    const url = new URL(r.download_url, location.origin);
    if (url.origin === location.origin) await download(url.pathname, Object.fromEntries(url.searchParams), name);
    else window.open(url.href, "_blank", "noopener"); // a SAS link carries its own authorisation
  } catch (e) { status(`Could not download: ${e.message}`); }
}

// ---------- page ----------

function fillForm(f) {
  const zones = $("f-tz");
  if (![...zones.options].some((o) => o.value === f.tz)) zones.append(el("option", { value: f.tz }, f.tz));
  $("timezone").textContent = f.tz;
  for (const k of FILTERS) { const input = $(`f-${k}`); if (input) input.value = f[k]; }
  const bound = me.role !== "admin";
  $("f-tenant").disabled = bound;
  $("f-user").disabled = Boolean(me.user_id);
  $("f-from").disabled = $("f-to").disabled = f.preset !== "custom";
}

async function render() {
  if (!me) return;
  const f = readFilters();
  fillForm(f);
  view = null;
  $("events").hidden = true;
  if (!f.tenant) { status("An admin key must name a tenant."); $("f-tenant").focus(); return; }
  status("Loading…");
  const started = performance.now();
  await renderTimeline(f);
  await Promise.all([renderOverview(f), Promise.resolve(renderBreakdown(f)), renderBudgets(f), renderAlerts(f), renderReports(f)]);
  document.body.dataset.loaded = String(Date.now());
  status(`Loaded in ${Math.round(performance.now() - started)} ms · ${f.tenant}${f.user ? " / " + f.user : ""} · days and hours in ${zone}`);
}

async function signIn(candidate) {
  sessionStorage.setItem(KEY_SLOT, candidate);
  try {
    me = await get("/api/whoami");
  } catch (e) {
    sessionStorage.removeItem(KEY_SLOT);
    me = null;
    $("keyerror").hidden = false;
    $("keyerror").textContent = e.status === 401 ? "This key was refused." : `Could not sign in: ${e.message}`;
    return;
  }
  $("keyerror").hidden = true;
  $("signin").hidden = true;
  $("app").hidden = false;
  $("signout").hidden = false;
  $("who").textContent = `${me.role} key · tenant ${me.tenant_id ?? "any"}${me.user_id ? " · user " + me.user_id : ""}`;
  await render();
}

function init() {
  // Every zone the browser knows (IANA names); the browser's own first, then UTC.
  let names = [];
  try { names = Intl.supportedValuesOf("timeZone"); } catch { /* older browsers: the two below */ }
  $("f-tz").replaceChildren(...[...new Set([BROWSER_ZONE, "UTC", ...names])].map((z) => el("option", { value: z }, z === BROWSER_ZONE ? `${z} (this browser)` : z)));
  $("keyform").addEventListener("submit", (e) => { e.preventDefault(); const v = $("key").value.trim(); $("key").value = ""; if (v) signIn(v); });
  $("signout").addEventListener("click", () => { sessionStorage.removeItem(KEY_SLOT); location.reload(); });
  $("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    const f = Object.fromEntries(FILTERS.map((k) => [k, $(`f-${k}`)?.value.trim() ?? ""]));
    writeFilters(f);
  });
  $("f-preset").addEventListener("change", () => { const custom = $("f-preset").value === "custom"; $("f-from").disabled = $("f-to").disabled = !custom; });
  $("f-clear").addEventListener("click", () => { const f = readFilters(); writeFilters({ preset: f.preset, from: f.from, to: f.to, tenant: f.tenant, by: "model", granularity: "day", tz: f.tz }); });
  $("export-view").addEventListener("click", () => exportView(readFilters()));
  $("export-focus").addEventListener("click", async () => {
    const f = readFilters();
    try { await download("/api/exports/focus", { ...scopeParams(f), from: startOf(f.from), to: startOf(addDays(f.to, 1)) }, `focus-${f.tenant}.csv`); }
    catch (e) { status(`FOCUS export failed: ${e.message}`); }
  });
  $("events-more").addEventListener("click", () => moreEvents().catch((e) => status(`Could not load more: ${e.message}`)));
  $("events-close").addEventListener("click", () => { $("events").hidden = true; });
  window.addEventListener("hashchange", () => render());
  const stored = key();
  if (stored) signIn(stored);
}

init();
