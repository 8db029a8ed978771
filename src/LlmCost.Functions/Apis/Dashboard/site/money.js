// Exact decimal helpers for the API's money strings ("0.00575"). Money is never turned into a float for display:
// strings are scaled to BigInt, divided or rounded there, and printed back. Totals always come from the API.

const SCALE = 28;

/** "12.345" -> BigInt scaled by 10^28. */
export function parse(text) {
  const s = String(text ?? "0").trim();
  const m = /^(-)?(\d+)(?:\.(\d+))?$/.exec(s);
  if (!m) throw new Error(`not a decimal: ${s}`);
  const frac = (m[3] ?? "").padEnd(SCALE, "0").slice(0, SCALE);
  const v = BigInt(m[2] + frac);
  return m[1] ? -v : v;
}

/** Round a scaled BigInt to `digits` decimals, half away from zero, and print it. */
export function format(scaled, digits) {
  const neg = scaled < 0n;
  let v = neg ? -scaled : scaled;
  const unit = 10n ** BigInt(SCALE - digits);
  v = (v + unit / 2n) / unit;
  let s = v.toString().padStart(digits + 1, "0");
  if (digits > 0) s = s.slice(0, -digits) + "." + s.slice(-digits);
  return (neg && v !== 0n ? "-" : "") + s;
}

/** The API's decimal string rounded to cents ("0.00575" -> "0.01"), for display and comparisons to the cent. */
export function cents(text) { return format(parse(text), 2); }

/** Display: dollars with cents; amounts under a dollar keep 4 decimals so small spend is not shown as 0.00. */
export function usd(text) {
  const v = parse(text);
  const abs = v < 0n ? -v : v;
  const digits = abs !== 0n && abs < parse("1") ? 4 : 2;
  const [int, frac] = format(v, digits).split(".");
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return "$" + grouped + (frac ? "." + frac : "");
}

/** cost / count exactly (e.g. average cost per request), printed with `digits` decimals; null when count is 0. */
export function divide(text, count, digits = 6) {
  if (!count) return null;
  return format(parse(text) / BigInt(count), digits);
}

/** Compare two decimal strings: -1, 0, 1. */
export function compare(a, b) { const x = parse(a), y = parse(b); return x < y ? -1 : x > y ? 1 : 0; }

/** A ratio of two decimal strings as a float for bar widths and dates only (never printed as money). */
export function ratio(a, b) { const y = parse(b); return y === 0n ? 0 : Number((parse(a) * 10000n) / y) / 10000; }
