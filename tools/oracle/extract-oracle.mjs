// Differential-test oracle for provider-native bodies: @pydantic/genai-prices' own extractor (extractUsage) and
// calculator (calcPrice), plus the documented places where LlmCost reads MORE of a body than the extractors do
// (docs/pricing.md, "Provider bodies: where LlmCost reads more than genai-prices"). Each addition below is one row
// of that table; everything else is the package's own behaviour.
//
// Reads one JSON case per line on stdin:
//   {"provider": "openai", "extractor": "openai"?, "flavor": "chat", "model": "gpt-4o", "timestamp": ISO-8601, "body": {...}}
// ("extractor" = the provider whose extractor reads the body, default "provider") and writes one line per case:
//   {"price": <total>, "input_price": .., "output_price": .., "provider_id": .., "model_id": .., "usage": {...}}
//   {"price": null, "usage": {...}}   calcPrice finds no provider/model
//   {"error": "<message>"}             extractUsage or calcPrice threw
// Usage: node extract-oracle.mjs <path to node_modules>
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const nodeModules = process.argv[2] ?? process.env.LLMCOST_NODE_TOOLS;
if (!nodeModules) {
  console.error('extract-oracle: pass the node_modules folder holding @pydantic/genai-prices as the first argument');
  process.exit(2);
}
const entry = path.join(nodeModules, '@pydantic', 'genai-prices', 'dist', 'index.js');
const { calcPrice, extractUsage, findProvider } = await import(pathToFileURL(entry).href);
console.warn = () => {};

const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
const at = (obj, ...steps) => steps.reduce((o, s) => (isObject(o) ? o[s] : undefined), obj);
const num = (v) => (typeof v === 'number' ? v : undefined);
function add(usage, key, value) {
  if (typeof value === 'number') usage[key] = (usage[key] ?? 0) + value;
}

// [path, dest] pairs LlmCost reads per body shape; added when the flavour's own mappings lack the same pair.
const CHAT = [
  [['prompt_tokens_details', 'cached_tokens'], 'cache_read_tokens'],
  [['prompt_tokens_details', 'cache_write_tokens'], 'cache_write_tokens'],
  [['prompt_tokens_details', 'audio_tokens'], 'input_audio_tokens'],
  [['prompt_tokens_details', 'text_tokens'], 'input_text_tokens'],
  [['prompt_tokens_details', 'image_tokens'], 'input_image_tokens'],
  [['prompt_tokens_details', 'video_tokens'], 'input_video_tokens'],
  [['completion_tokens_details', 'reasoning_tokens'], 'output_reasoning_tokens'],
  [['completion_tokens_details', 'audio_tokens'], 'output_audio_tokens'],
  [['completion_tokens_details', 'text_tokens'], 'output_text_tokens'],
  [['completion_tokens_details', 'image_tokens'], 'output_image_tokens'],
  [['server_tool_use', 'web_search_requests'], 'web_searches'],
  [['prompt_audio_seconds'], 'audio_seconds'],
  [['prompt_audio_seconds'], 'input_audio_seconds'],
];
const RESPONSES = [
  [['input_tokens_details', 'cached_tokens'], 'cache_read_tokens'],
  [['input_tokens_details', 'cache_write_tokens'], 'cache_write_tokens'],
  [['input_tokens_details', 'text_tokens'], 'input_text_tokens'],
  [['input_tokens_details', 'image_tokens'], 'input_image_tokens'],
  [['input_tokens_details', 'audio_tokens'], 'input_audio_tokens'],
  [['output_tokens_details', 'reasoning_tokens'], 'output_reasoning_tokens'],
  [['output_tokens_details', 'text_tokens'], 'output_text_tokens'],
  [['output_tokens_details', 'image_tokens'], 'output_image_tokens'],
  [['output_tokens_details', 'audio_tokens'], 'output_audio_tokens'],
  [['server_side_tool_usage', 'web_search'], 'web_searches'],
  [['server_side_tool_usage', 'x_search'], 'social_searches'],
  [['server_side_tool_usage', 'code_execution'], 'code_executions'],
  [['server_side_tool_usage', 'file_search'], 'storage_searches'],
];
const ANTHROPIC = [
  [['cache_creation', 'ephemeral_5m_input_tokens'], 'cache_write_5m_tokens'],
  [['cache_creation', 'ephemeral_1h_input_tokens'], 'cache_write_1h_tokens'],
  [['server_tool_use', 'web_search_requests'], 'web_searches'],
  [['output_tokens_details', 'thinking_tokens'], 'output_reasoning_tokens'],
];
const COHERE = [[['search_units'], 'rerank_searches']];

function same(a, b) {
  return JSON.stringify(Array.isArray(a) ? a : [a]) === JSON.stringify(Array.isArray(b) ? b : [b]);
}

function addMissing(usage, root, extractor, pairs) {
  for (const [steps, dest] of pairs) {
    if (extractor.mappings.some((m) => m.dest === dest && same(m.path, steps))) continue;
    add(usage, dest, num(at(root, ...steps)));
  }
}

function shapeOf(extractor) {
  const paths = extractor.mappings.map((m) => JSON.stringify(m.path));
  if (paths.includes('"prompt_tokens"')) return 'chat';
  if (paths.some((p) => p.includes('input_token_details')) || paths.includes('"billable_audio_seconds"')) return 'realtime';
  if (paths.includes('"cache_creation_input_tokens"') || (paths.includes('"input_tokens"') && extractor.mappings.some((m) => m.path === 'cache_read_input_tokens'))) return 'anthropic';
  if (paths.includes('"inputTokens"')) return 'bedrock';
  if (extractor.root === 'usageMetadata') return 'gemini';
  if (JSON.stringify(extractor.root).includes('billed_units')) return 'cohere';
  if (paths.includes('"input_tokens"')) return 'responses';
  return 'other';
}

function extract(provider, body, flavor) {
  const { model, usage } = extractUsage(provider, body, flavor);
  const extractor = provider.extractors.find((e) => e.api_flavor === flavor);
  const roots = Array.isArray(extractor.root) ? extractor.root : [extractor.root];
  const root = at(body, ...roots);
  switch (shapeOf(extractor)) {
    case 'chat':
      addMissing(usage, root, extractor, CHAT);
      // DeepSeek's top-level cache hits, when the details do not say.
      if (at(root, 'prompt_tokens_details', 'cached_tokens') === undefined && !extractor.mappings.some((m) => m.path === 'prompt_cache_hit_tokens')) {
        add(usage, 'cache_read_tokens', num(root.prompt_cache_hit_tokens));
      }
      break;
    case 'responses': {
      addMissing(usage, root, extractor, RESPONSES);
      // Hosted tools are billed per call; the calls are output items.
      if (!isObject(root.server_side_tool_usage) && Array.isArray(body.output)) {
        const searches = body.output.filter((o) => o?.type === 'web_search_call' && (o.action?.type ?? 'search') === 'search').length;
        const files = body.output.filter((o) => o?.type === 'file_search_call').length;
        if (searches) add(usage, 'web_searches', searches);
        if (files) add(usage, 'storage_searches', files);
      }
      break;
    }
    case 'anthropic':
      addMissing(usage, root, extractor, ANTHROPIC);
      break;
    case 'bedrock':
      for (const detail of Array.isArray(root.cacheDetails) ? root.cacheDetails : []) {
        if (detail.ttl === '5m') add(usage, 'cache_write_5m_tokens', num(detail.inputTokens));
        if (detail.ttl === '1h') add(usage, 'cache_write_1h_tokens', num(detail.inputTokens));
      }
      break;
    case 'cohere':
      addMissing(usage, root, extractor, COHERE);
      break;
    default:
      break;
  }
  return { model, usage };
}

function price(usage, model, c) {
  const options = { timestamp: new Date(c.timestamp) };
  if (c.provider) options.providerId = c.provider;
  return calcPrice(usage, model, options);
}

const out = [];
const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (line.trim() === '') continue;
  let result;
  try {
    const c = JSON.parse(line);
    const provider = findProvider({ providerId: c.extractor ?? c.provider });
    const { model, usage } = extract(provider, c.body, c.flavor);
    const name = c.model ?? model;
    const r = price(usage, name, c);
    if (r === null) {
      result = { price: null, usage };
    } else {
      let total = r.total_price;
      let input = r.input_price;
      let output = r.output_price;
      // Server-side compaction: a separately billed sampling pass of the same model (not in the top-level usage).
      const iterations = at(c.body, 'usage', 'iterations');
      if (Array.isArray(iterations)) {
        for (const iteration of iterations.filter((i) => i?.type === 'compaction')) {
          const pass = extract(provider, { model: name, usage: iteration }, c.flavor);
          const p = price(pass.usage, name, c);
          total += p.total_price;
          input += p.input_price;
          output += p.output_price;
        }
      }
      result = { price: total, input_price: input, output_price: output, provider_id: r.provider.id, model_id: r.model.id, usage };
    }
  } catch (e) {
    result = { error: String(e?.message ?? e) };
  }
  out.push(JSON.stringify(result));
  if (out.length >= 500) {
    process.stdout.write(out.join('\n') + '\n');
    out.length = 0;
  }
}
if (out.length) process.stdout.write(out.join('\n') + '\n');
