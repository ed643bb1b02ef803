#!/usr/bin/python3
"""Set every element of tensor NAME in DIR/model.safetensors to NaN.

    poison-weights.py DIR NAME

For the tests of what the runtime does with NaN logits.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "..", "utils"))

from llm_ref import safetensors_io  # noqa: E402

folder, name = sys.argv[1:3]
path = os.path.join(folder, "model.safetensors")
tensors = safetensors_io.load_checkpoint_dir(folder)
if name not in tensors:
    sys.exit("no tensor %r in %s" % (name, path))
tensors[name] = tensors[name].clone().fill_(float("nan"))
safetensors_io.save_file(tensors, path)
