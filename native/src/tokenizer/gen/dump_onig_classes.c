/* Prints, for every code point, its class under the patterns the hand-written pre-tokenizer
   decides (\s, \p{L}, \p{N}) as the vendored Oniguruma (the reference's engine and Unicode
   tables) matches them: one line "first last value" per run, value = class (1 letter, 2 number,
   3 white space) plus 32 when the code point is in [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and 64
   when it is in [\p{Ll}\p{Lm}\p{Lo}\p{M}], the two case classes of the o200k-style pattern
   (runs of value 0 are omitted). gen_unicode_tables.mjs reads it, so the fast path's classes are
   the regex engine's, not the build machine's.

   cc -O2 -Inative/third_party/oniguruma/src -Inative/third_party/oniguruma \
      native/src/tokenizer/gen/dump_onig_classes.c build/native/release/third_party/oniguruma/libinfeng_onig.a \
      -o /tmp/dump_onig_classes && /tmp/dump_onig_classes > /tmp/onig_classes.txt */
#include <stdio.h>
#include <string.h>

#include "oniguruma.h"

static regex_t* compile(const char* pattern) {
  regex_t* reg;
  OnigErrorInfo einfo;
  const OnigUChar* p = (const OnigUChar*)pattern;
  if (onig_new(&reg, p, p + strlen(pattern), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8, ONIG_SYNTAX_ONIGURUMA, &einfo) !=
      ONIG_NORMAL) {
    fprintf(stderr, "cannot compile %s\n", pattern);
    return NULL;
  }
  return reg;
}

static int utf8(unsigned cp, OnigUChar* b) {
  if (cp < 0x80) { b[0] = (OnigUChar)cp; return 1; }
  if (cp < 0x800) { b[0] = 0xC0 | (cp >> 6); b[1] = 0x80 | (cp & 63); return 2; }
  if (cp < 0x10000) { b[0] = 0xE0 | (cp >> 12); b[1] = 0x80 | ((cp >> 6) & 63); b[2] = 0x80 | (cp & 63); return 3; }
  b[0] = 0xF0 | (cp >> 18); b[1] = 0x80 | ((cp >> 12) & 63); b[2] = 0x80 | ((cp >> 6) & 63); b[3] = 0x80 | (cp & 63);
  return 4;
}

int main(void) {
  OnigEncoding encs[] = {ONIG_ENCODING_UTF8};
  onig_initialize(encs, 1);
  /* same precedence as the generator always had: white space first, then letter, number */
  regex_t* re[3] = {compile("\\A\\s\\z"), compile("\\A\\p{L}\\z"), compile("\\A\\p{N}\\z")};
  const int cls[3] = {3, 1, 2};
  regex_t* upper = compile("\\A[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]\\z");
  regex_t* lower = compile("\\A[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]\\z");
  if (!re[0] || !re[1] || !re[2] || !upper || !lower) return 1;
  printf("# Oniguruma %s\n", onig_version());
  unsigned run_first = 0;
  int run_cls = 0;
  for (unsigned cp = 0; cp <= 0x110000; ++cp) {
    int k = 0;
    if (cp < 0x110000 && !(cp >= 0xD800 && cp <= 0xDFFF)) {
      OnigUChar b[4];
      int n = utf8(cp, b);
      for (int i = 0; i < 3 && !k; ++i)
        if (onig_match(re[i], b, b + n, b, NULL, ONIG_OPTION_NONE) == n) k = cls[i];
      if (onig_match(upper, b, b + n, b, NULL, ONIG_OPTION_NONE) == n) k |= 32;
      if (onig_match(lower, b, b + n, b, NULL, ONIG_OPTION_NONE) == n) k |= 64;
    }
    if (cp == 0x110000 || k != run_cls) {
      if (run_cls) printf("%X %X %d\n", run_first, cp - 1, run_cls);
      run_first = cp;
      run_cls = k;
    }
  }
  return 0;
}
