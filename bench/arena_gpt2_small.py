#!/usr/bin/python3
"""GPT-2-small arenas: what memory planning (llm-plan-memory) buys.

    /usr/bin/python3 bench/arena_gpt2_small.py [--llm-compile build/bin/llm-compile]
        [--work /tmp/llm-bench-arena] [--contexts 1024,4096] [--layers 12]

Compiles the GPT-2-small model of bench/gpt2_small.py with `llm-compile
--train --generation=false` at each context length (the position table and
the sequence bound the arena is planned at) and reads the manifest's
arenas (docs/ABI.md) for `forward` and `train_step`: the bytes per sequence
of batch (fixed part included) at the bound, the most bytes live at one
point (the lower bound of any plan), and the bytes of the same buffers
without reuse. Prints arena / lower bound, no reuse / arena, and how each
arena grows from the first context to the others.

Only sizes are compiled and read: nothing runs, no weights are needed.
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_small import GPT2_SMALL, ROOT, gpt2_mlir  # noqa: E402

ENTRIES = ("forward", "train_step")


def arenas(llm_compile, work, layers, ctx):
    """{entry: manifest arena} of GPT-2-small at context `ctx`."""
    os.makedirs(work, exist_ok=True)
    source = os.path.join(work, "gpt2_small_%d.mlir" % ctx)
    with open(source, "w") as f:
        f.write(gpt2_mlir(layers, GPT2_SMALL["d"], GPT2_SMALL["heads"],
                          GPT2_SMALL["vocab"], ctx))
    out = os.path.join(work, "out_%d" % ctx)
    start = time.perf_counter()
    subprocess.run([llm_compile, source, "-o", out, "--train",
                    "--generation=false"], check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    with open(os.path.join(out, "manifest.json")) as f:
        manifest = json.load(f)
    found = {e["name"]: e.get("arena") for e in manifest["entry_points"]}
    return {name: found.get(name) for name in ENTRIES}, seconds


def mib(n):
    return "%.1f MiB" % (n / 2 ** 20)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm-compile",
                        default=os.path.join(ROOT, "build", "bin", "llm-compile"))
    parser.add_argument("--work", default="/tmp/llm-bench-arena")
    parser.add_argument("--contexts", default="1024,4096")
    parser.add_argument("--layers", type=int, default=12)
    args = parser.parse_args()
    contexts = [int(c) for c in args.contexts.split(",")]

    results = {}
    for ctx in contexts:
        results[ctx], seconds = arenas(args.llm_compile, args.work, args.layers, ctx)
        print("compiled GPT-2-small (%d layers) at %d tokens in %.0f s"
              % (args.layers, ctx, seconds))
    print()
    print("%-10s %6s %14s %14s %14s %14s %12s %12s"
          % ("entry", "tokens", "arena", "of it results", "live bound",
             "no reuse", "arena/bound", "no reuse/arena"))
    for name in ENTRIES:
        for ctx in contexts:
            a = results[ctx][name]
            if not a:
                print("%-10s %6d   (no arena)" % (name, ctx))
                continue
            arena = a["fixed_bytes"] + a["bytes_per_sequence"]
            print("%-10s %6d %14s %14s %14s %14s %12.3f %12.2f"
                  % (name, ctx, mib(arena), mib(a.get("result_bytes", 0)),
                     mib(a["live_bytes"]), mib(a["total_bytes"]),
                     arena / a["live_bytes"], a["total_bytes"] / arena))
    base = contexts[0]
    for name in ENTRIES:
        for ctx in contexts[1:]:
            a, b = results[base][name], results[ctx][name]
            if a and b:
                grow = ((b["fixed_bytes"] + b["bytes_per_sequence"])
                        / (a["fixed_bytes"] + a["bytes_per_sequence"]))
                print("%s arena at %d tokens / at %d: %.2fx (sequence %.0fx)"
                      % (name, ctx, base, grow, ctx / base))


if __name__ == "__main__":
    main()
