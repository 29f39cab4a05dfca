#!/usr/bin/env python3
"""Writes nfc.json: seeded random strings rich in combining marks, Hangul jamo and
composition exclusions, with their NFC form from Python's unicodedata (the same Unicode
version the tables were generated from). Run: python3 gen_nfc_fixture.py > nfc.json"""
import json
import random
import unicodedata as ud

rng = random.Random(7)
atoms = ['e', 'a', 'o', 'A', 'u', 'i', 'n', 'x', ' ', '\u0301', '\u0300', '\u0308', '\u0323', '\u0302', '\u0327',
         '\u030a', '\u0345', '\u0307', '\u1100', '\u1161', '\u11a8', '\uac00', '\uac01', 'é', 'ñ', 'Å', '\u212b',
         '\u2126', '\u0958', '\u0915', '\u093c', '\u0bc6', '\u0bbe', '\u0f73', '\u1e9b', 'ſ', '\u0344', '\u0340',
         '\u05b8', '\u05b7', '\u0591', '\u3099', '\u304b', '\u309a', '中', '😀']
cases = []
for _ in range(2000):
    s = ''.join(rng.choice(atoms) for _ in range(rng.randint(1, 10)))
    cases.append({'text': s, 'nfc': ud.normalize('NFC', s)})
print(json.dumps(cases, ensure_ascii=False))
