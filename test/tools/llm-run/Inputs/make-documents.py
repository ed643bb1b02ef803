#!/usr/bin/env python3
"""Writes a seeded corpus of documents for the next-sentence tests.

    make-documents.py N SEED > corpus.txt

One sentence per line, a blank line between documents. Document d draws
its words from topic d % 4 (colours, animals, numbers, sky), so whether
sentence B follows sentence A shows in whether they share a topic: a
next-sentence task a tiny model learns in a hundred steps. The words are
those of topics/vocab.txt.
"""

import random
import sys

count, seed = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)
topics = [["red", "green", "blue", "pink"], ["cat", "dog", "cow", "pig"],
          ["one", "two", "three", "four"], ["sun", "moon", "star", "sky"]]
documents = []
for d in range(count):
    words = topics[d % len(topics)]
    sentences = [" ".join(rng.choice(words) for _ in range(rng.randint(2, 5)))
                 for _ in range(rng.randint(2, 6))]
    documents.append("\n".join(sentences))
print("\n\n".join(documents))
