// Generated adversarial texts for the parity tests: random code points from blocks of many
// scripts (including ones new in Unicode 15.0–16.0), mixed scripts, long runs of spaces and
// digits, emoji ZWJ sequences, contractions in odd cases, compatibility characters. Seeded, so
// every run and every test sees the same texts.
/** Blocks of assigned characters across scripts, including ones new in Unicode 15.0–16.0. */
export const BLOCKS: [number, number][] = [
  [0x20, 0x7e], // ASCII
  [0xa0, 0x24f], // Latin-1, Latin Extended
  [0x300, 0x36f], // combining marks
  [0x370, 0x3ff], // Greek
  [0x400, 0x4ff], // Cyrillic
  [0x590, 0x5ff], // Hebrew
  [0x600, 0x6ff], // Arabic
  [0x900, 0x97f], // Devanagari
  [0xe00, 0xe7f], // Thai
  [0x10a0, 0x10ff], // Georgian
  [0x1100, 0x11ff], // Hangul Jamo
  [0x1e00, 0x1eff], // Latin Extended Additional
  [0x2000, 0x206f], // General Punctuation (spaces, joiners)
  [0x20a0, 0x20cf], // currency
  [0x2150, 0x218f], // number forms
  [0x2460, 0x24ff], // enclosed alphanumerics
  [0x3000, 0x303f], // CJK punctuation
  [0x3040, 0x30ff], // kana
  [0x4e00, 0x9fff], // CJK
  [0xac00, 0xd7a3], // Hangul syllables
  [0xfb00, 0xfb4f], // presentation forms (ligatures)
  [0xff00, 0xffef], // halfwidth and fullwidth forms
  [0x1d400, 0x1d7ff], // mathematical alphanumerics
  [0x1f300, 0x1faff], // emoji
  [0x11f00, 0x11f5f], // Kawi (15.0)
  [0x31350, 0x323af], // CJK Extension H (15.0)
  [0x2ebf0, 0x2ee5d], // CJK Extension I (15.1)
  [0x10d40, 0x10d8f], // Garay (16.0)
  [0x1e5d0, 0x1e5ff], // Ol Onal (16.0)
  [0x11bc0, 0x11bff], // Sunuwar (16.0)
  [0x1ab0, 0x1aff], // combining marks extended (marks of Unicode 7.0–16.0)
  [0x1dc0, 0x1dff], // combining marks supplement
  [0x2100, 0x214f], // letterlike symbols (compatibility mappings)
  [0x3300, 0x33ff], // CJK compatibility (long compatibility mappings)
  [0xfb50, 0xfdff], // Arabic presentation forms
  [0x1f100, 0x1f1ff], // enclosed alphanumeric supplement (mappings of 6.1 and later)
];

const ATOMS = [
  ' ',
  '   ',
  '\n',
  '\r\n',
  '\t',
  "'s",
  "'LL",
  "'Re",
  'ſ',
  '\u00a0',
  '\u3000',
  '\u200d',
  '👩‍👩‍👧‍👦',
  '🏳️‍🌈',
  '👍🏽',
  'e\u0301',
  '１２３',
  '٣٤٥',
  '½',
  'ﬁ',
  '...',
  '//',
  '<|',
  '|>',
];

export function generated(seed: number, count: number): string[] {
  let s = seed >>> 0;
  const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const texts: string[] = [];
  for (let k = 0; k < count; k++) {
    let t = '';
    const parts = 1 + Math.floor(rnd() * 10);
    for (let i = 0; i < parts; i++) {
      const r = rnd();
      if (r < 0.45) {
        const [lo, hi] = pick(BLOCKS);
        const n = 1 + Math.floor(rnd() * 6);
        for (let j = 0; j < n; j++) t += String.fromCodePoint(lo + Math.floor(rnd() * (hi - lo + 1)));
      } else if (r < 0.8) {
        t += pick(ATOMS);
      } else if (r < 0.9) {
        t += ' '.repeat(1 + Math.floor(rnd() * 40));
      } else {
        t += String(Math.floor(rnd() * 1e15)).repeat(1 + Math.floor(rnd() * 3));
      }
    }
    texts.push(t);
  }
  return texts;
}
