#!/usr/bin/env bash
#===- examples/kjv-gpt/distill.sh - a smaller student from the bundled model -===#
#
# Knowledge distillation with llm-run train --distill-from: a 2-layer,
# 128-wide student (about 0.45M parameters, a seventh of the teacher) learns
# the King James Bible from the bundled model's logits (temperature 2,
# alpha 0.5), and the same student trained on the text alone for the same
# steps from the same seeded weights is the baseline. Both are scored with
# llm-run eval on the corpus's last 5% (the teacher's held-out text).
#
#   examples/kjv-gpt/distill.sh [BUILD_DIR] [WORK_DIR] [STEPS]
#
#===----------------------------------------------------------------------===#
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${1:-$ROOT/build}"
WORK="${2:-/tmp/llm-kjv-distill}"
STEPS="${3:-600}"
TEACHER="$ROOT/examples/kjv-gpt/model"

command -v bible >/dev/null || {
  echo "distill.sh: the corpus comes from Debian's bible-kjv (utils/setup.sh installs it)" >&2
  exit 1
}
mkdir -p "$WORK"
bible -l10000 "Genesis 1:1-Revelation 22:21" |
  awk 'NF == 0 { next }
       /^[1-3]?[A-Za-z ]*[A-Za-z] [0-9]+$/ { next }
       { sub(/^ *[0-9]+ /, ""); print }' > "$WORK/kjv.txt"
# The teacher's validation text: the corpus's last 5%.
tail -c "$(( $(wc -c < "$WORK/kjv.txt") / 20 ))" "$WORK/kjv.txt" > "$WORK/val.txt"

/usr/bin/python3 "$ROOT/utils/make-tiny-model.py" --family gpt2 --vocab 256 \
  --ctx 128 --hidden 128 --heads 4 --layers 2 --init-std 0.02 --seed 3 \
  --out "$WORK/student-init"
cp "$TEACHER/tokenizer_config.json" "$WORK/student-init/"
"$BUILD/bin/llm-compile" "$WORK/student-init" -o "$WORK/student-art" --train \
  --distill --generation=false
"$BUILD/bin/llm-compile" "$TEACHER" -o "$WORK/teacher-art" --generation=false

common=(--data "$WORK/kjv.txt" --steps "$STEPS" --batch 8 --seq 128 --lr 2e-3
        --min-lr 2e-4 --warmup 50 --schedule cosine --clip 1.0 --weight-decay 0.1
        --eval-every "$STEPS" --eval-batches 32 --threads 2 --seed 1)
"$BUILD/bin/llm-run" train "$WORK/student-art" --weights "$WORK/student-init" \
  --out "$WORK/alone" "${common[@]}" | tee "$WORK/alone.log"
"$BUILD/bin/llm-run" train "$WORK/student-art" --weights "$WORK/student-init" \
  --out "$WORK/distilled" "${common[@]}" --distill-from "$WORK/teacher-art" \
  --teacher-weights "$TEACHER" --temperature 2 --alpha 0.5 | tee "$WORK/distilled.log"

for model in alone distilled; do
  echo "distill.sh: $model:"
  "$BUILD/bin/llm-run" eval "$WORK/student-art" --weights "$WORK/$model" \
    --data "$WORK/val.txt" --seq 128 --threads 2
done
# The teacher on the same text: loss 1.3113, perplexity 3.71 (README.md).
