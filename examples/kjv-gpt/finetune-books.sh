#!/usr/bin/env bash
#===- examples/kjv-gpt/finetune-books.sh - which book is this verse from? --===#
#
# Fine-tunes the bundled model (examples/kjv-gpt/model) into a classifier
# that tells which of four books of the King James Bible a verse comes from:
# Genesis, Psalms, Proverbs or Matthew.
#
#   examples/kjv-gpt/finetune-books.sh [BUILD_DIR] [WORK_DIR] [STEPS]
#
# The labelled verses (`book<TAB>verse`) are split by a seeded shuffle into
# 90% for training and 10% held out; the classifier's config is the bundled
# model's with architectures GPT2ForSequenceClassification and num_labels 4;
# `llm-run train --task classify --init-missing` starts from the bundled
# weights with a new `score` head; `llm-run eval --task classify` reports
# the held-out accuracy. (The language model saw these verses' text in its
# pretraining, never their books.)
#
#===----------------------------------------------------------------------===#
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${1:-$ROOT/build}"
WORK="${2:-/tmp/llm-kjv-books}"
STEPS="${3:-400}"
MODEL="$ROOT/examples/kjv-gpt/model"
mkdir -p "$WORK/classifier"

for book in Genesis Psalms Proverbs Matthew; do
  bible -l10000 "$book 1:1-$book 200:200" 2>/dev/null |
    awk -v book="$book" 'NF == 0 { next }
         /^[1-3]?[A-Za-z ]*[A-Za-z] [0-9]+$/ { next }
         { sub(/^ *[0-9]+ /, ""); print book "\t" $0 }'
done > "$WORK/verses.tsv"
/usr/bin/python3 - "$WORK" <<'PY'
import random, sys
work = sys.argv[1]
lines = open(work + "/verses.tsv").read().splitlines()
random.Random(1).shuffle(lines)
held = len(lines) // 10
open(work + "/test.tsv", "w").write("\n".join(lines[:held]) + "\n")
open(work + "/train.tsv", "w").write("\n".join(lines[held:]) + "\n")
print("finetune-books.sh: %d verses, %d for training, %d held out"
      % (len(lines), len(lines) - held, held))
PY

# The classifier: the bundled model's config with a 4-way head.
/usr/bin/python3 - "$MODEL/config.json" "$WORK/classifier/config.json" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config["architectures"] = ["GPT2ForSequenceClassification"]
books = ["Genesis", "Matthew", "Proverbs", "Psalms"]  # llm-run's order: sorted
config["id2label"] = {str(i): b for i, b in enumerate(books)}
config["label2id"] = {b: i for i, b in enumerate(books)}
config["num_labels"] = len(books)
config["pad_token_id"] = 0
json.dump(config, open(sys.argv[2], "w"), indent=2)
PY
cp "$MODEL/tokenizer_config.json" "$WORK/classifier/"
# llm-compile reads the config; the weights it checks against are the
# bundled ones plus the head, which training initializes.
/usr/bin/python3 "$ROOT/utils/make-tiny-model.py" --family gpt2 --vocab 256 \
  --ctx 128 --hidden 256 --heads 4 --layers 4 --num-labels 4 --out "$WORK/shape" >/dev/null
cp "$WORK/classifier/config.json" "$WORK/shape/config.json"
"$BUILD/bin/llm-compile" "$WORK/shape" -o "$WORK/art" --train

"$BUILD/bin/llm-run" train "$WORK/art" --weights "$MODEL" --init-missing \
  --config "$WORK/classifier/config.json" --task classify \
  --data "$WORK/train.tsv" --out "$WORK/ckpt" --steps "$STEPS" --batch 16 \
  --seq 128 --lr 3e-4 --warmup 40 --schedule cosine --weight-decay 0.01 \
  --eval-every 100 --threads 2 --seed 1 | tee "$WORK/finetune.log"
"$BUILD/bin/llm-run" eval "$WORK/art" --weights "$WORK/ckpt" --task classify \
  --data "$WORK/test.tsv" --seq 128 --batch 32 --threads 2 | tee -a "$WORK/finetune.log"
