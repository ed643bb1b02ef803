"""GPT-2's tokenizer in llm-opt against the reference implementation.

Usage: tokenizer_gpt2.py LLM_RUN REPO_ROOT WORK_DIR

Builds a few hundred KB of text deterministically: the license texts of
/usr/share/common-licenses, Python standard library sources, a document of
hand-picked edge cases (contractions, digits in words, runs of every kind of
whitespace before words, CJK, emoji with ZWJ and modifiers, combining marks,
right-to-left scripts, Unicode spaces, U+2028, control characters), seeded
random Unicode text, and text with invalid UTF-8. Each document is encoded
by the npm package gpt-3-encoder (utils/ort/gpt2_encode.js, run with node;
utils/setup.sh installs the pinned version) and by `llm-run tokenize` with
the package's own encoder.json and vocab.bpe, and the ids must be equal.
Then `llm-run tokenize --decode-input` must give back each document's text
(for invalid UTF-8: the text with U+FFFD, as Python's errors='replace'
reads it), and the Hugging Face layout (vocab.json + merges.txt, the same
files renamed) must give the same ids.
"""

import glob
import json
import os
import random
import subprocess
import sys
import unicodedata

LLM_RUN, ROOT, WORK = sys.argv[1:4]
ORT_DIR = os.path.join(ROOT, "utils", "ort")
PACKAGE = os.path.join(ORT_DIR, "node_modules", "gpt-3-encoder")
NODE = os.environ.get("NODE", "node")

# Documents longer than this are split at line ends: gpt-3-encoder's encode()
# concatenates arrays in a loop and slows down quadratically on long texts.
MAX_DOCUMENT_BYTES = 32 * 1024


def fail(message):
    print("gpt2 tokenizer: FAILURES: " + message)
    return 1


def pinned_version():
    with open(os.path.join(ORT_DIR, "package.json")) as f:
        return json.load(f)["dependencies"]["gpt-3-encoder"]


def installed_version():
    try:
        with open(os.path.join(PACKAGE, "package.json")) as f:
            return json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        return None


#===-----------------------------------------------------------------------===#
# The documents
#===-----------------------------------------------------------------------===#

def split_lines(data, limit=MAX_DOCUMENT_BYTES):
    """Chunks of `data` (bytes) of at most `limit` bytes, cut at line ends
    (or anywhere, for a longer line)."""
    chunks, start = [], 0
    while start < len(data):
        end = min(start + limit, len(data))
        if end < len(data):
            cut = data.rfind(b"\n", start, end)
            if cut > start:
                end = cut + 1
        chunks.append(data[start:end])
        start = end
    return chunks


def license_documents():
    docs, seen = [], set()
    for path in sorted(glob.glob("/usr/share/common-licenses/*")):
        real = os.path.realpath(path)
        if not os.path.isfile(real) or real in seen:
            continue
        seen.add(real)
        with open(real, "rb") as f:
            for i, chunk in enumerate(split_lines(f.read())):
                docs.append(("license-%s-%d" % (os.path.basename(path), i), chunk))
    return docs


def python_source_documents():
    stdlib = os.path.dirname(os.__file__)
    names = ["textwrap.py", "string.py", "json/decoder.py", "json/encoder.py",
             "html/entities.py", "difflib.py", "locale.py",
             "email/_header_value_parser.py"]
    docs = []
    for name in names:
        path = os.path.join(stdlib, name)
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            for i, chunk in enumerate(split_lines(f.read())):
                docs.append(("python-%s-%d" % (name.replace("/", "-"), i), chunk))
    return docs


# Every character that JavaScript's \s matches, and near misses that it does
# not (NEL, MONGOLIAN VOWEL SEPARATOR, ZERO WIDTH SPACE, WORD JOINER).
JS_SPACES = ["\t", "\n", "\x0b", "\x0c", "\r", " ", "\u00a0", "\u1680"] + \
    [chr(c) for c in range(0x2000, 0x200b)] + \
    ["\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\ufeff"]
NOT_SPACES = ["\u0085", "\u180e", "\u200b", "\u2060"]

EDGE_CASES = [
    # Contractions: lowercase only, no space, anywhere.
    "it's I'm you're we've they'll she'd don't IT'S I'LL You'Re 's 't 're 've 'm 'll 'd",
    "''s '''ll y'all'd've rock'n'roll o'clock 'sand 'tis '' ' ' x' 'x",
    "it\u2019s don\u2019t \u2018quoted\u2019 \u201cdouble\u201d",
    # Digits and letters.
    "abc123def 1st 2nd 3rd 4th 3.14159 1,000,000 -42 +7 0x1F 1e10 v1.2.3",
    "\u0663\u0664\u0665 \u0967\u0968\u0969 \u216b\u2167 \u00bd\u00be \u00b2\u00b3 \u2460\u2461 \U0001d7d8",
    "x\u0663y 12\u00bd a\u00b2b",
    # Spaces before words, and at the ends.
    "a  b   c    d     e\t\tf\n\ng\r\n\r\nh \n i\n \nj   ",
    "   leading and trailing   ",
    "\n\n\n\n",
    "end\t",
    # CJK, Hangul, kana.
    "\u4f60\u597d\uff0c\u4e16\u754c\u3002 \u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 \ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8",
    "\u4f60\u597dworld 123\u4e16\u754c",
    # Emoji: ZWJ sequences, modifiers, flags, keycaps, variation selectors.
    "\U0001f469\u200d\U0001f4bb \U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 \U0001f44d\U0001f3fd \U0001f3f3\ufe0f\u200d\U0001f308",
    "\u2764\ufe0f \U0001f1e9\U0001f1ea\U0001f1eb\U0001f1f7 1\ufe0f\u20e3 ok\U0001f44dok",
    # Combining marks, precomposed and not.
    "e\u0301 caf\u00e9 cafe\u0301 a\u0308\u0304 Z\u0334\u0321\u032aa\u0337l\u0336g\u0335o\u0336 n\u0303",
    # Right-to-left, and bidi controls.
    "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd \u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645 abc \u05e9\u05dc\u05d5\u05dd 123",
    "\u200f\u202eabc\u202c\u200e",
    # Other scripts with marks.
    "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35 \u0928\u092e\u0938\u094d\u0924\u0947 \u0bb5\u0ba3\u0b95\u0bcd\u0b95\u0bae\u0bcd \u10d2\u10d0\u10db\u10d0\u10e0\u10ef\u10dd\u10d1\u10d0",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u039f\u0394\u039f\u03a3 \u1f00\u03bb\u03c6\u03b1",
    # Symbols and punctuation.
    "\u2211\u222b\u221a\u221e \u20ac\u00a3\u00a5\u20b9 \u2014\u2013- \u2026 \u00ab\u00bb \u00bf\u00a1 \u00a7\u00b6 \u2122\u00ae\u00a9",
    "<|endoftext|> <|endoftext|>hello",
    "def f(x):\n    return x ** 2  # comment\n\nprint(f(3))\n",
    "{\"a\": [1, 2, \"x\"], \"b\": null, \"c\": {\"d\": true}}",
    "https://example.org/path?q=1&r=2#frag user@example.org",
    # Control characters.
    "\x00\x01\x07\x1b[31mred\x1b[0m\x7f\x08",
]


def edge_case_document():
    text = "\n".join(EDGE_CASES) + "\n"
    # Every space (and near miss) alone and doubled, between and before
    # words, digits and symbols, and at the very end.
    for space in JS_SPACES + NOT_SPACES:
        for follower in ["word", "42", "!?", "'s", "\u4f60", ""]:
            text += "x" + space + follower + " y" + space + space + follower
            text += "z " + space + follower + "\n"
    return text + "\u2028\u2029 \u3000"


def random_unicode_documents(count=6, size=12000):
    """Seeded random text: words from many scripts, numbers, symbols and
    marks, separated by runs of assorted spaces."""
    rng = random.Random(20240611)
    letters, numbers, others = [], [], []
    for cp in range(0x80, 0x2FFFF):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        category = unicodedata.category(chr(cp))
        if category in ("Cn", "Cs"):
            continue
        if category[0] == "L":
            letters.append(chr(cp))
        elif category[0] == "N":
            numbers.append(chr(cp))
        else:
            others.append(chr(cp))
    ascii_letters = [chr(c) for c in range(0x41, 0x5B)] + [chr(c) for c in range(0x61, 0x7B)]
    ascii_other = [chr(c) for c in range(0x21, 0x7F) if not chr(c).isalnum()]
    docs = []
    for d in range(count):
        parts = []
        length = 0
        while length < size:
            kind = rng.random()
            if kind < 0.35:
                word = "".join(rng.choice(ascii_letters) for _ in range(rng.randint(1, 9)))
            elif kind < 0.6:
                word = "".join(rng.choice(letters) for _ in range(rng.randint(1, 6)))
            elif kind < 0.7:
                word = "".join(rng.choice(numbers if rng.random() < 0.5 else "0123456789")
                               for _ in range(rng.randint(1, 5)))
            elif kind < 0.85:
                word = "".join(rng.choice(others if rng.random() < 0.5 else ascii_other)
                               for _ in range(rng.randint(1, 4)))
            else:
                word = rng.choice(["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'"]) + \
                    rng.choice(ascii_letters)
            space = "".join(rng.choice(JS_SPACES + NOT_SPACES + [" "] * 20)
                            for _ in range(rng.choice([0, 1, 1, 1, 1, 2, 3])))
            parts.append(word + space)
            length += len(word) + len(space)
        docs.append(("random-unicode-%d" % d, "".join(parts).encode("utf-8")))
    return docs


def invalid_utf8_documents(count=2):
    """Text with broken UTF-8: truncated and overlong sequences, surrogates,
    bytes that never start a character, lone continuation bytes."""
    rng = random.Random(7)
    broken = [b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\x80", b"\xe0\x80\x80",
              b"\xf0\x80\x80\x80", b"\xf4\x90\x80\x80", b"\xf5", b"\xff",
              b"\xfe\xff", b"\x80", b"\xbf\xbf", b"\xf0\x9f\x98", b"\xc3",
              b"\xe4\xbd"]
    fine = [b"hello", b" world", b"'s", b"  ", b"\n", b"123", b"\xc3\xa9",
            b"\xe2\x82\xac", b"\xf0\x9f\x98\x80", b"\xe4\xbd\xa0", b"!"]
    docs = []
    for d in range(count):
        data = b"".join(rng.choice(broken if rng.random() < 0.3 else fine)
                        for _ in range(1500))
        docs.append(("invalid-utf8-%d" % d, data))
    return docs


def build_documents():
    docs = license_documents() + python_source_documents()
    docs.append(("edge-cases", edge_case_document().encode("utf-8")))
    docs += random_unicode_documents()
    docs += invalid_utf8_documents()
    return docs


#===-----------------------------------------------------------------------===#
# The comparison
#===-----------------------------------------------------------------------===#

def run_llm(args):
    proc = subprocess.run([LLM_RUN, "tokenize"] + args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise RuntimeError("llm-run tokenize %s failed: %s"
                           % (" ".join(args), proc.stderr.decode(errors="replace").strip()))
    return proc.stdout


def parse_ids(text):
    text = text.decode().strip()
    return [int(x) for x in text.split(",")] if text else []


def describe_difference(name, want, got):
    """Where the ids first differ, with the tokens around it."""
    with open(os.path.join(PACKAGE, "encoder.json"), encoding="utf-8") as f:
        pieces = {i: p for p, i in json.load(f).items()}
    i = next((k for k, (a, b) in enumerate(zip(want, got)) if a != b),
             min(len(want), len(got)))
    window = slice(max(0, i - 3), i + 4)
    show = lambda ids: " ".join("%d:%r" % (t, pieces.get(t)) for t in ids[window])
    return ("%s: ids differ at position %d of %d (reference) / %d (llm-opt)\n"
            "  reference: %s\n  llm-opt:   %s" % (name, i, len(want), len(got),
                                                  show(want), show(got)))


def main():
    want_version = pinned_version()
    have_version = installed_version()
    if have_version is None:
        return fail("gpt-3-encoder is not installed in %s (run utils/setup.sh "
                    "or utils/ort/setup.sh)" % PACKAGE)
    if have_version != want_version:
        return fail("gpt-3-encoder %s is installed, package.json pins %s (run "
                    "utils/ort/setup.sh)" % (have_version, want_version))

    docs = build_documents()
    total_bytes = sum(len(data) for _, data in docs)
    if total_bytes < 200 * 1024:
        return fail("only %d bytes of text to compare; expected the license "
                    "texts of /usr/share/common-licenses and Python's sources"
                    % total_bytes)
    doc_dir = os.path.join(WORK, "docs")
    os.makedirs(doc_dir, exist_ok=True)
    paths = []
    for name, data in docs:
        path = os.path.join(doc_dir, name + ".txt")
        with open(path, "wb") as f:
            f.write(data)
        paths.append(path)

    reference_json = os.path.join(WORK, "reference.json")
    try:
        proc = subprocess.run([NODE, os.path.join(ORT_DIR, "gpt2_encode.js"),
                               reference_json] + paths,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except FileNotFoundError:
        return fail("'%s' not found: install node (Debian: nodejs)" % NODE)
    if proc.returncode != 0:
        return fail("gpt2_encode.js failed: " + proc.stderr.strip())
    encoder_dir = json.loads(proc.stdout.strip().splitlines()[-1])["encoder_dir"]
    with open(reference_json) as f:
        reference = json.load(f)

    failures = []
    total_tokens = 0
    for (name, data), path, want in zip(docs, paths, reference):
        ids_path = os.path.join(WORK, name + ".ids")
        try:
            run_llm(["--tokenizer", encoder_dir, "--input", path, "-o", ids_path])
            with open(ids_path, "rb") as f:
                got = parse_ids(f.read())
        except RuntimeError as e:
            failures.append(str(e))
            continue
        total_tokens += len(want)
        if got != want:
            failures.append(describe_difference(name, want, got))
            continue
        # decode(encode(x)) == x, with invalid UTF-8 read as Python does.
        text_path = os.path.join(WORK, name + ".decoded")
        try:
            run_llm(["--tokenizer", encoder_dir, "--decode-input", ids_path,
                     "-o", text_path])
        except RuntimeError as e:
            failures.append(str(e))
            continue
        with open(text_path, "rb") as f:
            decoded = f.read()
        expected = data.decode("utf-8", errors="replace").encode("utf-8")
        if decoded != expected:
            at = next((k for k, (a, b) in enumerate(zip(decoded, expected)) if a != b),
                      min(len(decoded), len(expected)))
            failures.append("%s: decoding the ids differs from the text at byte %d"
                            % (name, at))
    print("gpt2 tokenizer: %d documents, %d bytes, %d tokens compared with "
          "gpt-3-encoder %s" % (len(docs), total_bytes, total_tokens, want_version))

    # The Hugging Face file names hold the same vocabulary and merges.
    hf_dir = os.path.join(WORK, "hf")
    os.makedirs(hf_dir, exist_ok=True)
    for source, target in [("encoder.json", "vocab.json"), ("vocab.bpe", "merges.txt")]:
        with open(os.path.join(encoder_dir, source), "rb") as f, \
                open(os.path.join(hf_dir, target), "wb") as g:
            g.write(f.read())
    edge = docs.index(next(d for d in docs if d[0] == "edge-cases"))
    try:
        hf_ids = parse_ids(run_llm(["--tokenizer", hf_dir, "--input", paths[edge]]))
        if hf_ids != reference[edge]:
            failures.append(describe_difference("edge-cases (vocab.json + merges.txt)",
                                                reference[edge], hf_ids))
        else:
            print("gpt2 tokenizer: vocab.json + merges.txt give the same %d ids"
                  % len(hf_ids))
    except RuntimeError as e:
        failures.append(str(e))

    if failures:
        for message in failures:
            print(message)
        return fail("%d of the checks failed" % len(failures))
    print("gpt2 tokenizer: all ids equal, all decode to their text")
    return 0


if __name__ == "__main__":
    sys.exit(main())
