// The tokenizer lane's measuring process. Runs the native tokenizer (this directory's addon)
// and the reference (npm `tokenizers`, resolved from --root) on the same texts in this one
// process, interleaved repetition by repetition, and writes one JSON document to --out (or
// stdout). --models get every measurement; --families (the other tokenizer files the native
// loader takes) get parity and the single-thread comparison only, which is what tells whether
// a file's path (regex pre-tokenizer, normalizer) keeps its speed. --tiktoken names the
// families that the npm `tiktoken` package (OpenAI's Rust core as WebAssembly) also encodes,
// with its encoding: a second, faster peer, timed in the same rounds once it is checked to give
// the reference's ids on every text.
// Plain JavaScript beside the built addon, so the lane runs the same from src/ and from the
// bundled dist/index.js. Spawned by src/lanes/tokenizer.ts; progress goes to stderr.
//
//   node tokenizer_lane_child.mjs --root=<project> --corpus=<dir> --models=name=path,...
//     [--families=name=path,...] [--tiktoken=name=encoding,...] [--repetitions=5] [--min_time_ms=200] [--threads=1,2,4,8] [--prefix_k=1024]
//     [--prefix_cache_entries=64] [--out=<file.json>]
import { createRequire } from 'node:module';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';

const here = path.dirname(fileURLToPath(import.meta.url));
const flags = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const m = /^--([^=]+)=(.*)$/.exec(a);
    if (!m) throw new Error(`bad argument ${a}: use --name=value`);
    return [m[1], m[2]];
  }),
);
const num = (k, d) => (flags[k] === undefined ? d : Number(flags[k]));
const repetitions = num('repetitions', 5);
const minTimeMs = num('min_time_ms', 200);
const threadSweep = (flags.threads ?? '1,2,4,8').split(',').map(Number);
const cores = os.cpus().length;
// An A/B round after the first (set by the lane runner): the parity pass against the reference
// (deterministic, and already checked in the first round) and the thread counts that
// oversubscribe the machine (warn-only metrics) are skipped, so a round is short.
// The peers (the reference and tiktoken) are timed in the first round only as well: an A/B
// round judges the native rates of the base and the head directly, and the ratios over a peer
// come from the first round.
const laterAbRound = process.env.INFENG_BENCH_AB_ROUND === '1';
const sweep = laterAbRound ? threadSweep.filter((n) => n <= cores) : threadSweep;
// the best native batch time is taken over the counts that do not oversubscribe: the same
// definition in every round, and the reference's pool does not oversubscribe either
const fitting = threadSweep.filter((n) => n <= cores);
const prefixK = num('prefix_k', 1024);
const prefixEntries = num('prefix_cache_entries', 64);
const log = (s) => process.stderr.write(`${s}\n`);

const native = createRequire(import.meta.url)(path.join(here, 'infeng_tokenizer.node'));
let hfModule;
try {
  hfModule = createRequire(path.join(path.resolve(flags.root ?? '.'), 'package.json'))('tokenizers');
} catch (e) {
  throw new Error(`the reference, npm package "tokenizers", is not installed (run npm ci): ${e.message}`);
}
// The second peer, optional: the lane runs without it (and says so in its context).
let tiktokenModule = null;
let tiktokenVersion = '';
try {
  const req = createRequire(path.join(path.resolve(flags.root ?? '.'), 'package.json'));
  tiktokenModule = req('tiktoken');
  tiktokenVersion = JSON.parse(readFileSync(path.join(path.dirname(req.resolve('tiktoken')), 'package.json'), 'utf8')).version;
} catch {
  tiktokenModule = null;
}
const tiktokenOf = Object.fromEntries(
  (flags.tiktoken ?? '').split(',').filter(Boolean).map((kv) => kv.split('=')),
);
const hfVersion = JSON.parse(
  readFileSync(
    path.join(path.dirname(createRequire(path.join(path.resolve(flags.root ?? '.'), 'package.json')).resolve('tokenizers')), 'package.json'),
    'utf8',
  ),
).version;

const corpusDir = flags.corpus;
const files = readdirSync(corpusDir).filter((f) => f.endsWith('.txt')).sort();
const texts = files.map((f) => readFileSync(path.join(corpusDir, f), 'utf8'));
const bytes = texts.reduce((s, t) => s + Buffer.byteLength(t), 0);
// The batch: the corpus cut into paragraphs of at most ~2 KB, like many short requests, four
// times over (a few milliseconds of work, so that starting threads is noise).
const batch = [0, 1, 2, 3].flatMap(() => texts).flatMap((t) => {
  const out = [];
  for (const para of t.split(/(?<=\n\n)/)) {
    for (let i = 0; i < para.length; i += 2048) out.push(para.slice(i, i + 2048));
  }
  return out;
});
const batchBytes = batch.reduce((s, t) => s + Buffer.byteLength(t), 0);

const now = () => performance.now();
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// Runs fn `loops` times and returns the seconds per loop.
async function timeLoops(fn, loops) {
  const t0 = now();
  for (let i = 0; i < loops; i++) await fn();
  return (now() - t0) / 1000 / loops;
}
// Enough loops that one timing takes about minTimeMs.
async function calibrate(fn) {
  const once = await timeLoops(fn, 1);
  return Math.max(1, Math.ceil(minTimeMs / 1000 / Math.max(once, 1e-6)));
}

function sameIds(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function measure(name, file, light = false) {
  const nat = native.Tokenizer.fromFile(file);
  // a later A/B round neither compares with nor times the peers: loading them is skipped too
  const hf = laterAbRound ? null : hfModule.Tokenizer.fromFile(file);
  const hfEncode = async (t, special = false) => (await hf.encode(t, null, { addSpecialTokens: special })).getIds();

  // Parity: every text, with and without special tokens.
  let mismatches = 0;
  const firstMismatch = [];
  let tokens = 0;
  // tiktoken: special-token text is encoded as the special token, as the reference does
  const tt = !laterAbRound && tiktokenModule && tiktokenOf[name] ? tiktokenModule.get_encoding(tiktokenOf[name]) : null;
  let tiktokenMismatches = 0;
  for (let i = 0; i < texts.length; i++) {
    if (laterAbRound) {
      // the first round compared these ids with the reference's
      tokens += nat.encode(texts[i], false).length;
      continue;
    }
    for (const special of [false, true]) {
      const want = await hfEncode(texts[i], special);
      const got = nat.encode(texts[i], special);
      if (!special) tokens += want.length;
      if (!sameIds(want, got)) {
        mismatches++;
        if (firstMismatch.length < 3) firstMismatch.push(`${files[i]}${special ? ' +special' : ''}`);
      }
      if (tt && !special && !sameIds(want, tt.encode(texts[i], 'all'))) tiktokenMismatches++;
    }
  }
  // a peer that does not give the reference's ids is not timed
  const peer = tt && tiktokenMismatches === 0 ? tt : null;

  // Single thread, interleaved: each repetition times native then the reference (the order
  // alternates, so neither always runs on a cache the other warmed or cooled).
  const natAll = () => {
    for (const t of texts) nat.encode(t, false);
  };
  const hfAll = async () => {
    for (const t of texts) await hf.encode(t, null, { addSpecialTokens: false });
  };
  const ttAll = () => {
    for (const t of texts) peer.encode(t, 'all');
  };
  const sides = laterAbRound ? ['native'] : peer ? ['native', 'hf', 'tiktoken'] : ['native', 'hf'];
  const natLoops = await calibrate(natAll);
  const hfLoops = sides.includes('hf') ? await calibrate(hfAll) : 0;
  const ttLoops = sides.includes('tiktoken') ? await calibrate(ttAll) : 0;
  const single = { native_s: [], hf_s: [], tiktoken_s: [] };
  for (let r = 0; r < repetitions; r++) {
    // the order rotates, so no side always runs on a cache another warmed or cooled
    const order = sides.map((_, k) => sides[(k + r) % sides.length]);
    for (const side of order) {
      if (side === 'native') single.native_s.push(await timeLoops(natAll, natLoops));
      else if (side === 'tiktoken') single.tiktoken_s.push(await timeLoops(ttAll, ttLoops));
      else single.hf_s.push(await timeLoops(hfAll, hfLoops));
    }
  }

  if (tt) tt.free();
  const peerInfo = tt ? { encoding: tiktokenOf[name], mismatches: tiktokenMismatches } : null;
  if (light) {
    const result = result_of(name, file, nat, { mismatches, firstMismatch, tokens, single, peerInfo });
    report(result);
    return result;
  }

  // Batch: the native thread sweep (a batch is checked against single-text encodes once per
  // thread count) and the reference's own encodeBatch (its thread pool, all cores).
  const batchWant = batch.map((t) => nat.encode(t, false));
  const natBatch = (n) => () => nat.encodeBatch(batch, n, false);
  const hfBatch = async () => hf.encodeBatch(batch, { addSpecialTokens: false });
  for (const n of sweep) {
    const got = nat.encodeBatch(batch, n, false);
    got.forEach((ids, i) => {
      if (!sameIds(ids, batchWant[i])) mismatches++;
    });
  }
  if (!laterAbRound) {
    const hfBatchOut = await hfBatch();
    hfBatchOut.forEach((enc, i) => {
      if (!sameIds(enc.getIds(), batchWant[i])) mismatches++;
    });
  }
  const batchLoops = await calibrate(natBatch(1));
  const hfBatchLoops = laterAbRound ? 0 : await calibrate(hfBatch);
  const batchS = Object.fromEntries(sweep.map((n) => [n, []]));
  const hfBatchS = [];
  for (let r = 0; r < repetitions; r++) {
    for (const n of sweep) batchS[n].push(await timeLoops(natBatch(n), batchLoops));
    if (!laterAbRound) hfBatchS.push(await timeLoops(hfBatch, hfBatchLoops));
  }

  // Prefix cache: chat-style requests sharing a long system prompt, with the cache on and off;
  // the ids must be identical.
  const system = texts[files.indexOf('chat.txt')] ?? texts[0];
  const requests = batch.slice(0, 64).map((t) => system + t);
  nat.setPrefixCache(0, 1);
  const plain = requests.map((t) => nat.encode(t, true));
  nat.setPrefixCache(prefixK, prefixEntries);
  const cached = requests.map((t) => nat.encode(t, true));
  cached.forEach((ids, i) => {
    if (!sameIds(ids, plain[i])) mismatches++;
  });
  const stats = nat.prefixCacheStats();
  const reqAll = () => {
    for (const t of requests) nat.encode(t, true);
  };
  const prefixLoops = await calibrate(reqAll);
  const prefixOn = [];
  const prefixOff = [];
  for (let r = 0; r < repetitions; r++) {
    nat.setPrefixCache(0, 1);
    prefixOff.push(await timeLoops(reqAll, prefixLoops));
    nat.setPrefixCache(prefixK, prefixEntries);
    prefixOn.push(await timeLoops(reqAll, prefixLoops));
  }
  nat.setPrefixCache(0, 1);

  const batchTokens = batchWant.reduce((s, ids) => s + ids.length, 0);
  const result = result_of(name, file, nat, { mismatches, firstMismatch, tokens, single, peerInfo });
  Object.assign(result, { batch_texts: batch.length, batch_bytes: batchBytes, batch_tokens: batchTokens });
  Object.assign(result.samples, {
      ...(hfBatchS.length
        ? {
            hf_batch_mb_s: hfBatchS.map((s) => mb(batchBytes, s)),
            batch_speedup_vs_hf: hfBatchS.map((s, i) => s / Math.min(...(fitting.length ? fitting : sweep).map((n) => batchS[n][i]))),
          }
        : {}),
      prefix_speedup: prefixOff.map((s, i) => s / prefixOn[i]),
      ...Object.fromEntries(sweep.map((n) => [`batch_mb_s_t${n}`, batchS[n].map((s) => mb(batchBytes, s))])),
      ...Object.fromEntries(sweep.map((n) => [`batch_tokens_s_t${n}`, batchS[n].map((s) => batchTokens / s)])),
      ...(sweep.includes(1) && sweep.includes(2)
        ? { batch_scaling_2t: batchS[1].map((s, i) => s / batchS[2][i]) }
        : {}),
  });
  result.parity_mismatches = laterAbRound && mismatches === 0 ? null : mismatches;
  result.prefix = { k: prefixK, entries: prefixEntries, hits: stats.hits, lookups: stats.lookups };
  report(result);
  return result;
}

const mb = (b, s) => b / s / 1e6;

// The part of a model's result that the single-thread comparison gives.
function result_of(name, file, nat, { mismatches, firstMismatch, tokens, single, peerInfo }) {
  const result = {
    name,
    file,
    family: nat.family,
    pre_tokenizer: nat.preTokenizer,
    texts: texts.length,
    bytes,
    tokens,
    batch_texts: 0,
    batch_bytes: 0,
    batch_tokens: 0,
    // null: the corpus was not compared with the reference in this round (see laterAbRound)
    parity_mismatches: laterAbRound && mismatches === 0 ? null : mismatches,
    parity_first: firstMismatch,
    samples: {
      native_mb_s: single.native_s.map((s) => mb(bytes, s)),
      native_tokens_s: single.native_s.map((s) => tokens / s),
      ...(single.hf_s.length
        ? {
            hf_mb_s: single.hf_s.map((s) => mb(bytes, s)),
            hf_tokens_s: single.hf_s.map((s) => tokens / s),
            speedup_vs_hf: single.native_s.map((s, i) => single.hf_s[i] / s),
          }
        : {}),
    },
    prefix: { k: 0, entries: 0, hits: 0, lookups: 0 },
  };
  if (peerInfo) result.tiktoken = peerInfo;
  if (single.tiktoken_s.length) {
    result.samples.tiktoken_mb_s = single.tiktoken_s.map((s) => mb(bytes, s));
    result.samples.speedup_vs_tiktoken = single.native_s.map((s, i) => single.tiktoken_s[i] / s);
  }
  return result;
}

function report(result) {
  if (!result.samples.hf_mb_s) {
    log(`tokenizer ${result.name}: native ${median(result.samples.native_mb_s).toFixed(1)} MB/s; peers and parity in the first A/B round`);
    return;
  }
  const tt = result.samples.speedup_vs_tiktoken
    ? `, tiktoken ${median(result.samples.tiktoken_mb_s).toFixed(1)} MB/s, ×${median(result.samples.speedup_vs_tiktoken).toFixed(1)}`
    : result.tiktoken
      ? `, tiktoken not timed: ids differ on ${result.tiktoken.mismatches} text(s)`
      : '';
  log(
    `tokenizer ${result.name}: native ${median(result.samples.native_mb_s).toFixed(1)} MB/s, reference ` +
      `${median(result.samples.hf_mb_s).toFixed(1)} MB/s, ×${median(result.samples.speedup_vs_hf).toFixed(1)}${tt}; ` +
      (result.parity_mismatches === null ? 'parity checked in the first A/B round' : `parity mismatches ${result.parity_mismatches}`),
  );
}

const pairs = (list) =>
  (list ?? '').split(',').filter(Boolean).map((kv) => {
    const i = kv.indexOf('=');
    return { name: kv.slice(0, i), file: kv.slice(i + 1) };
  });
const models = pairs(flags.models);
const families = pairs(flags.families);
const out = {
  context: {
    host_path: native.hostPath,
    isa_flags: native.isaFlags,
    cores: os.cpus().length,
    reference: `tokenizers ${hfVersion}`,
    second_peer: tiktokenModule ? `tiktoken ${tiktokenVersion}` : 'tiktoken not installed',
    node: process.version,
    repetitions,
    threads: threadSweep.join(','),
    oversubscribed_threads: threadSweep.filter((n) => n > os.cpus().length).join(','),
    corpus_files: files.join(','),
    unicode_classes: native.unicodeVersions?.classes ?? '',
    unicode_normalization: native.unicodeVersions?.normalization ?? '',
    unicode_lowercase: native.unicodeVersions?.lowercase ?? '',
  },
  models: [],
};
for (const m of models) out.models.push(await measure(m.name, m.file));
for (const f of families) out.models.push(await measure(f.name, f.file, true));
if (flags.out) writeFileSync(flags.out, `${JSON.stringify(out)}\n`);
else process.stdout.write(`${JSON.stringify(out)}\n`);
