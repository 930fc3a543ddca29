// Dev-time copy of the official R4 examples (npm package hl7.fhir.r4.examples 4.0.1, CC0) of the
// resource types Stadig supports into tests/Stadig.Tests/Fhir/Examples. The copies are committed;
// run this only to change the set of types.
//
//   node tools/fhir-definitions/copy-examples.mjs                 # downloads the package with npm pack
//   node tools/fhir-definitions/copy-examples.mjs /path/package   # an already extracted package folder

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');
const outDir = join(repoRoot, 'tests', 'Stadig.Tests', 'Fhir', 'Examples');
const structure = JSON.parse(readFileSync(join(repoRoot, 'src', 'Stadig.Core', 'Fhir', 'Definitions', 'r4-structure.json'), 'utf8'));
const supported = new Set(structure.supportedResources);

function packageFolder() {
  if (process.argv[2]) return process.argv[2];
  const work = mkdtempSync(join(tmpdir(), 'fhir-examples-'));
  execFileSync('npm', ['pack', 'hl7.fhir.r4.examples@4.0.1'], { cwd: work, stdio: 'inherit' });
  execFileSync('tar', ['xzf', 'hl7.fhir.r4.examples-4.0.1.tgz'], { cwd: work });
  return join(work, 'package');
}

// Every resource in the file, contained ones and Bundle entries included.
function resourceTypesIn(node, into) {
  if (Array.isArray(node)) { for (const item of node) resourceTypesIn(item, into); return into; }
  if (node && typeof node === 'object') {
    if (typeof node.resourceType === 'string') into.add(node.resourceType);
    for (const value of Object.values(node)) resourceTypesIn(value, into);
  }
  return into;
}

const pkg = packageFolder();
mkdirSync(outDir, { recursive: true });
let copied = 0, skipped = 0;
for (const file of readdirSync(pkg).sort()) {
  if (!file.endsWith('.json') || file === 'package.json' || file.startsWith('ig-')) continue;
  const resource = JSON.parse(readFileSync(join(pkg, file), 'utf8'));
  if (!supported.has(resource.resourceType)) continue;
  // A Bundle of, say, ValueSets would only test that unsupported types are refused.
  if ([...resourceTypesIn(resource, new Set())].some((t) => !supported.has(t))) { skipped++; continue; }
  copyFileSync(join(pkg, file), join(outDir, file));
  copied++;
}
console.log(`Copied ${copied} examples; skipped ${skipped} that hold resource types outside the supported set.`);
