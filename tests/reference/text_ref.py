#!/usr/bin/env python3
"""Reference tokens, vocabulary and word vectors for tests/check_text.c.

Tokens are Python's own `re.findall(r"[\\w']+", text.lower())` (and without .lower() for the
keep-case mode), the tokenizer the reference uses, on: every line of the 40 real HowTo100M
caption files and the YouCook2-style file; hand-picked tricky Unicode strings; and every
code point Python's Unicode database assigns (in blocks of 256; code points unassigned in
Python's Unicode 14 are left out, since utf8proc's Unicode 15 assigns some of them).

The vocabulary of the caption corpus (min count 2, at most 500 words, count descending then
word bytes ascending) and the ids of every caption with max_words 20 come from collections.Counter.

Word vectors are read with struct/numpy, independently of the C reader, into <name>.npy
((V + 1, D) float32, row 0 zeros) and <name>.words.json.

Writes <out>/texts.json, <out>/wordvec/*."""
import argparse
import collections
import csv
import glob
import json
import os
import re
import struct
import sys
import unicodedata

import testenv  # exits 77 (a CTest skip) when a module below is missing

testenv.need("numpy")
import numpy as np

WORD = re.compile(r"[\w']+")

TRICKY = [
    "Hello, World!", "don't stop 'quoted' words'' ''", "snake_case and CamelCase123 __init__",
    "İstanbul İİ", "ΟΔΥΣΣΕΥΣ ΣΑΣ Σ", "ΑΣ'Β ΑΣ. ΑΣ", "aΣ\u0301 Σa ΣΣ", "ΆΣ ά ΈΣ",
    "Straße STRASSE", "ǅemal ǄEMAL ǆ", "Ⅻ ⅻ ①② ½ x² ³⁄₄", "٣٤٥ arabic-indic ۱۲",
    "日本語のテキスト、カタカナー", "हिन्दी भाषा", "naïve nai\u0308ve café cafe\u0301",
    "emoji 😀 test👍ok", "tab\tnew\nline\r\nend", "‿connector a‿b", "don’t it’s ‘x’",
    "soft\u00adhyphen zero\u200bwidth join\u200der", "Ω ohm \u2126 K kelvin \u212a Å \u212b",
    "ＦＵＬＬＷＩＤＴＨ ｆｕｌｌ１２３", "3.5 1,000 -7 +8 1e10", "Ꭰ Ꮿ ꭰ", "ᾈ ᾼ ῼ",
    "ΣΑΣ\u00adΣ ΑΣ\u00ad", "\u0130stanbul'da", "MIXED Case İ Σ", "", "   ", "'", "''a''",
    "we'll you're it's o'clock rock'n'roll", "C++ C# .NET node.js e-mail",
    "Ⓐⓑ Ⓒ", "ªº ʰʲ", "ß ẞ ŉ", "ﬁ ﬂ ﬀ", "ǰ ΐ", "\u1e9e\u00df",
]


def toks(s):
    return {"text": s, "lower": WORD.findall(s.lower()), "keep": WORD.findall(s)}


def caption_texts(data):
    texts = []
    for path in sorted(glob.glob(os.path.join(data, "howto100m", "captions", "*.csv"))):
        with open(path, newline="", encoding="utf-8") as f:
            texts += [r["text"] for r in csv.DictReader(f)]
    with open(os.path.join(data, "howto100m", "youcook2_style_val_captions.csv"), newline="", encoding="utf-8") as f:
        texts += [r["text"] for r in csv.DictReader(f)]
    return texts


def blocks():
    out = []
    for b in range(0, sys.maxunicode + 1, 256):
        cps = [c for c in range(b, b + 256)
               if not (0xD800 <= c <= 0xDFFF) and unicodedata.category(chr(c)) != "Cn" and c != 0]
        if cps:
            out.append("".join(chr(c) for c in cps))
    return out


def read_w2v_binary(path):
    with open(path, "rb") as f:
        raw = f.read()
    nl = raw.index(b"\n")
    n, d = map(int, raw[:nl].split())
    pos = nl + 1
    words, vecs = [], []
    for _ in range(n):
        while raw[pos:pos + 1] == b"\n":
            pos += 1
        sp = raw.index(b" ", pos)
        words.append(raw[pos:sp].decode("utf-8"))
        pos = sp + 1
        vecs.append(struct.unpack("<%df" % d, raw[pos:pos + 4 * d]))
        pos += 4 * d
    return words, np.array(vecs, dtype=np.float32)


def read_text_vectors(path, header):
    words, vecs = [], []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if header:
        n, d = map(int, lines[0].split())
        lines = lines[1:]
    for line in lines:
        parts = line.rstrip().split(" ")
        if parts == [""]:
            continue
        words.append(parts[0])
        vecs.append([float(x) for x in parts[1:]])
    arr = np.array(vecs, dtype=np.float32)
    if header:
        assert arr.shape == (n, d), (path, arr.shape, n, d)
    return words, arr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    data = testenv.data_dir()
    os.makedirs(os.path.join(args.out, "wordvec"), exist_ok=True)

    caps = caption_texts(data)
    counts = collections.Counter(w for t in caps for w in WORD.findall(t.lower()))
    ranked = sorted((w for w, c in counts.items() if c >= 2), key=lambda w: (-counts[w], w.encode("utf-8")))
    vocab = ranked[:500]
    ids = {w: i + 1 for i, w in enumerate(vocab)}
    encoded = []
    for t in caps:
        e = [ids[w] for w in WORD.findall(t.lower()) if w in ids][:20]
        encoded.append(e + [0] * (20 - len(e)))
    doc = {
        "captions": [toks(t) for t in caps],
        "tricky": [toks(t) for t in TRICKY],
        "blocks": [toks(t) for t in blocks()],
        "vocab": {"min_count": 2, "max_size": 500, "words": vocab, "max_words": 20, "encoded": encoded},
        "unidata_version": unicodedata.unidata_version,
    }
    with open(os.path.join(args.out, "texts.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=True)

    wv = os.path.join(data, "wordvec")
    for name, reader in (("euclidean_vectors.bin", read_w2v_binary),
                         ("word2vec_pre_kv_c", lambda p: read_text_vectors(p, True)),
                         ("lee_fasttext.vec", lambda p: read_text_vectors(p, True)),
                         ("test_glove.txt", lambda p: read_text_vectors(p, False))):
        words, m = reader(os.path.join(wv, name))
        full = np.zeros((m.shape[0] + 1, m.shape[1]), dtype=np.float32)
        full[1:] = m
        np.save(os.path.join(args.out, "wordvec", name + ".npy"), full)
        with open(os.path.join(args.out, "wordvec", name + ".words.json"), "w") as f:
            json.dump(words, f)
    print("captions %d, tricky %d, blocks %d, vocab %d" % (len(caps), len(TRICKY), len(doc["blocks"]), len(vocab)))


if __name__ == "__main__":
    main()
