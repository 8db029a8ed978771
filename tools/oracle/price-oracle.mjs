// Differential-test oracle: prices calls with the reference calculator of @pydantic/genai-prices.
// Reads one JSON case per line on stdin: {"provider": "openai"|null, "model": "gpt-4o", "timestamp": ISO-8601,
// "usage": {"input_tokens": 1, ...}} and writes one JSON line per case, in order:
//   {"price": <total_price>, "input_price": .., "output_price": .., "provider_id": .., "model_id": ..}
//   {"price": null}            the package finds no provider/model (calcPrice returned null)
//   {"error": "<message>"}     calcPrice threw (inconsistent usage or price data)
// Usage: node price-oracle.mjs <path to node_modules>   (LLMCOST_NODE_TOOLS when run by the tests)
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const nodeModules = process.argv[2] ?? process.env.LLMCOST_NODE_TOOLS;
if (!nodeModules) {
  console.error('price-oracle: pass the node_modules folder holding @pydantic/genai-prices as the first argument');
  process.exit(2);
}
const entry = path.join(nodeModules, '@pydantic', 'genai-prices', 'dist', 'index.js');
const { calcPrice } = await import(pathToFileURL(entry).href);

// The package warns on stderr about unsupported keys; keep stderr for real failures only.
console.warn = () => {};

const out = [];
const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (line.trim() === '') {
    continue;
  }
  let result;
  try {
    const c = JSON.parse(line);
    const options = { timestamp: new Date(c.timestamp) };
    if (c.provider) {
      options.providerId = c.provider;
    }
    const r = calcPrice(c.usage, c.model, options);
    result = r === null
      ? { price: null }
      : {
          price: r.total_price,
          input_price: r.input_price,
          output_price: r.output_price,
          provider_id: r.provider.id,
          model_id: r.model.id,
        };
  } catch (e) {
    result = { error: String(e?.message ?? e) };
  }
  out.push(JSON.stringify(result));
  if (out.length >= 1000) {
    process.stdout.write(out.join('\n') + '\n');
    out.length = 0;
  }
}
if (out.length) {
  process.stdout.write(out.join('\n') + '\n');
}
