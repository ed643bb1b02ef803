#!/usr/bin/env python3
"""Writes a seeded `label<TAB>text` file for the classification tests.

    make-labelled.py N SEED > file.tsv

Each text is a few filler words ending in "yes" (label agree) or "no"
(label disagree): a task a tiny byte-level model learns in a few dozen
steps, since the class shows at the very token the classifier reads.
"""

import random
import sys

count, seed = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)
filler = ["the", "a", "and", "of", "to", "is", "was", "my", "one", "he", "said"]
for _ in range(count):
    answer = rng.choice(["yes", "no"])
    words = [rng.choice(filler) for _ in range(rng.randint(1, 5))] + [answer]
    print(("agree" if answer == "yes" else "disagree") + "\t" + " ".join(words))
