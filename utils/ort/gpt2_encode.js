#!/usr/bin/env node
// utils/ort/gpt2_encode.js - GPT-2 token ids of text files, computed by the
// reference tokenizer (the npm package gpt-3-encoder, OpenAI's encoder.py in
// JavaScript, pinned in package.json), for test/e2e/tokenizer-gpt2.test.
//
// Usage:
//   node utils/ort/gpt2_encode.js OUT.json FILE...
//
// Reads each FILE as bytes, turns them into a string with
// Buffer.toString('utf8') (invalid UTF-8 becomes U+FFFD, one per maximal
// ill-formed subpart), encodes it, and writes OUT.json: a JSON array with
// one array of ids per FILE, in order. Also prints where the package's
// vocabulary lives ({"encoder_dir": ...}) so that the other side of the
// comparison loads the same files. Exit status 0 on success, 1 on any error
// (message on stderr), 2 on a usage error.

"use strict";
const fs = require("fs");
const path = require("path");

function main(argv) {
  if (argv.length < 2) {
    process.stderr.write("usage: gpt2_encode.js OUT.json FILE...\n");
    return 2;
  }
  let encode;
  let packageDir;
  try {
    packageDir = path.dirname(require.resolve("gpt-3-encoder/package.json"));
    encode = require("gpt-3-encoder").encode;
  } catch (e) {
    process.stderr.write(
        "gpt2_encode.js: gpt-3-encoder is not installed (run " +
        "utils/ort/setup.sh): " + e.message + "\n");
    return 1;
  }
  const results = [];
  for (const file of argv.slice(1)) {
    const text = fs.readFileSync(file).toString("utf8");
    const ids = encode(text);
    for (let i = 0; i < ids.length; ++i) {
      if (!Number.isInteger(ids[i])) {
        process.stderr.write(
            "gpt2_encode.js: " + file + ": the reference produced a " +
            "non-id at position " + i + "\n");
        return 1;
      }
    }
    results.push(ids);
  }
  fs.writeFileSync(argv[0], JSON.stringify(results));
  process.stdout.write(JSON.stringify({encoder_dir: packageDir}) + "\n");
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  process.stderr.write("gpt2_encode.js: " + (e && e.stack ? e.stack : e) +
                       "\n");
  process.exitCode = 1;
}
