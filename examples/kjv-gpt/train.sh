#!/usr/bin/env bash
#===- examples/kjv-gpt/train.sh - the bundled default model, from scratch --===#
#
# Trains the bundled default model (examples/kjv-gpt/model): a 4-layer,
# 256-wide GPT-2-style model over bytes (3.3M parameters), on the King James
# Bible from Debian's bible-kjv, with llm-opt's own compiled training step.
#
#   examples/kjv-gpt/train.sh [BUILD_DIR] [WORK_DIR] [STEPS]
#
# Steps: the corpus (one verse per line, headings and verse numbers
# dropped); seeded random initial weights in GPT-2's checkpoint layout
# (utils/make-tiny-model.py); `llm-compile --train`; `llm-run train` (AdamW,
# warmup + cosine decay, clipping, validation on the corpus's last 5%);
# then the checkpoint's weights, config and tokenizer declaration are
# copied over examples/kjv-gpt/model. Everything is seeded: a rerun on the
# same machine reproduces the committed weights' loss curve (the compiled
# code's reductions depend on the thread count).
#
#===----------------------------------------------------------------------===#
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${1:-$ROOT/build}"
WORK="${2:-/tmp/llm-kjv-gpt}"
STEPS="${3:-3000}"
MODEL="$ROOT/examples/kjv-gpt/model"

command -v bible >/dev/null || {
  echo "train.sh: the corpus comes from Debian's bible-kjv (utils/setup.sh installs it)" >&2
  exit 1
}
mkdir -p "$WORK"

# The corpus: one verse per line.
bible -l10000 "Genesis 1:1-Revelation 22:21" |
  awk 'NF == 0 { next }                            # blank lines
       /^[1-3]?[A-Za-z ]*[A-Za-z] [0-9]+$/ { next } # "Genesis 1", "1 John 3"
       { sub(/^ *[0-9]+ /, ""); print }' > "$WORK/kjv.txt"
echo "train.sh: corpus $WORK/kjv.txt: $(wc -l < "$WORK/kjv.txt") verses, $(wc -c < "$WORK/kjv.txt") bytes"

# The initial weights and the compiled training step.
/usr/bin/python3 "$ROOT/utils/make-tiny-model.py" --family gpt2 --vocab 256 \
  --ctx 256 --hidden 256 --heads 4 --layers 4 --init-std 0.02 --seed 1 \
  --out "$WORK/init"
cp "$MODEL/tokenizer_config.json" "$WORK/init/"
"$BUILD/bin/llm-compile" "$WORK/init" -o "$WORK/train-art" --train --generation=false

# Training (about 35 minutes on two cores).
"$BUILD/bin/llm-run" train "$WORK/train-art" --weights "$WORK/init" \
  --data "$WORK/kjv.txt" --out "$WORK/ckpt" --steps "$STEPS" --batch 8 --seq 128 \
  --lr 1e-3 --min-lr 1e-4 --warmup 100 --schedule cosine --clip 1.0 \
  --weight-decay 0.1 --eval-every 500 --eval-batches 32 --save-every 500 \
  --threads 2 --seed 1 | tee "$WORK/train.log"

# Training saw positions 0..127 only: the bundled model keeps those rows of
# the position table, and its context is 128 tokens (llm-run generate
# --context slide goes on past it).
/usr/bin/python3 - "$ROOT/utils" "$WORK/ckpt" "$MODEL" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1])
from llm_ref import safetensors_io
ckpt, model = sys.argv[2], sys.argv[3]
tensors = safetensors_io.load_file(ckpt + "/model.safetensors")
tensors["transformer.wpe.weight"] = tensors["transformer.wpe.weight"][:128].clone()
safetensors_io.save_file(tensors, model + "/model.safetensors", metadata={"format": "pt"})
config = json.load(open(ckpt + "/config.json"))
config["n_positions"] = config["n_ctx"] = 128
open(model + "/config.json", "w").write(json.dumps(config, indent=2) + "\n")
PY
echo "train.sh: wrote the trained weights to $MODEL"
