#!/usr/bin/env node
// utils/ort/ort_run.js - run an ONNX model with ONNX Runtime (CPU), the peer
// that llm-opt's model tests and bench compare against.
//
// Usage:
//   node utils/ort/ort_run.js MODEL.onnx INPUTS OUT_DIR [--threads N]
//                             [--repeats R] [--warmup W] [--no-optimize]
//
//   INPUTS    an .npz file (np.savez / np.savez_compressed) or a folder of
//             NAME.npy files; NAME is the model input's name. Every model
//             input must be given; extra arrays are an error.
//   OUT_DIR   receives one .npy per model output (out_<index>.npy, in the
//             model's output order) and outputs.json describing them.
//   --threads N    intra-op threads (default 1; inter-op is always 1)
//   --repeats R    timed runs (default 1); the reported time is the median
//   --warmup W     untimed runs before them (default 1 when R > 1, else 0)
//   --no-optimize  graph optimization level "disabled" instead of "all"
//
// Prints one JSON object on stdout:
//   {"model", "threads", "repeats", "median_ms", "times_ms": [...],
//    "load_ms", "outputs": [{"name", "file", "dtype", "shape"}]}
// Exit status 0 on success, 1 on any error (message on stderr), 2 on a
// usage error.
//
// Needs onnxruntime-node from utils/ort/setup.sh (found next to this file,
// or through NODE_PATH). Self-contained otherwise: the .npy/.npz reading and
// the .npy writing are below (npz entries may be stored or deflated; zip64
// is handled).

"use strict";

const fs = require("fs");
const path = require("path");
const zlib = require("zlib");

function fail(message, code = 1) {
  process.stderr.write("ort_run: error: " + message + "\n");
  process.exit(code);
}

function loadOrt() {
  const candidates = [path.join(__dirname, "node_modules", "onnxruntime-node"),
                      "onnxruntime-node"];
  for (const c of candidates) {
    try {
      return require(c);
    } catch (e) {
      if (e.code !== "MODULE_NOT_FOUND") throw e;
    }
  }
  fail("onnxruntime-node is not installed; run utils/ort/setup.sh");
}

// ---------------------------------------------------------------------------
// .npy

// NumPy descr (without byte order) -> [ORT tensor type, typed array, bytes]
const NPY_TYPES = {
  f4: ["float32", Float32Array, 4],
  f8: ["float64", Float64Array, 8],
  f2: ["float16", Uint16Array, 2],
  i8: ["int64", BigInt64Array, 8],
  i4: ["int32", Int32Array, 4],
  i2: ["int16", Int16Array, 2],
  i1: ["int8", Int8Array, 1],
  u8: ["uint64", BigUint64Array, 8],
  u4: ["uint32", Uint32Array, 4],
  u2: ["uint16", Uint16Array, 2],
  u1: ["uint8", Uint8Array, 1],
  b1: ["bool", Uint8Array, 1],
};
const ORT_TO_DESCR = {};
for (const [k, v] of Object.entries(NPY_TYPES)) {
  ORT_TO_DESCR[v[0]] = (v[2] === 1 ? "|" : "<") + k;
}

function parseNpy(buf, what) {
  const magic = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);  // \x93NUMPY
  if (buf.length < 10 || !buf.subarray(0, 6).equals(magic)) {
    throw new Error(`${what}: not a .npy file`);
  }
  const major = buf[6];
  let headerLen, start;
  if (major === 1) {
    headerLen = buf.readUInt16LE(8);
    start = 10;
  } else if (major === 2 || major === 3) {
    headerLen = buf.readUInt32LE(8);
    start = 12;
  } else {
    throw new Error(`${what}: unsupported .npy version ${major}`);
  }
  const header = buf.subarray(start, start + headerLen).toString("latin1");
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) {
    throw new Error(`${what}: malformed .npy header ${JSON.stringify(header)}`);
  }
  if (fortran[1] === "True") {
    throw new Error(`${what}: Fortran-ordered arrays are not supported (use np.ascontiguousarray)`);
  }
  const order = descr[1][0];
  const code = descr[1].slice(1);
  if (!(code in NPY_TYPES) || (order === ">" && NPY_TYPES[code][2] > 1)) {
    throw new Error(`${what}: unsupported dtype '${descr[1]}' (little-endian ` +
                    `${Object.keys(NPY_TYPES).join(", ")} only)`);
  }
  const dims = shape[1].split(",").map((s) => s.trim()).filter((s) => s.length)
      .map((s) => parseInt(s, 10));
  const [type, Ctor, size] = NPY_TYPES[code];
  const count = dims.reduce((a, b) => a * b, 1);
  const dataStart = start + headerLen;
  if (buf.length - dataStart < count * size) {
    throw new Error(`${what}: truncated data (${buf.length - dataStart} bytes, ` +
                    `expected ${count * size})`);
  }
  // Copy into a fresh, aligned buffer.
  const bytes = new Uint8Array(count * size);
  bytes.set(buf.subarray(dataStart, dataStart + count * size));
  return {type, dims, data: new Ctor(bytes.buffer, 0, count)};
}

function writeNpy(file, type, dims, data) {
  const descr = ORT_TO_DESCR[type];
  if (!descr) throw new Error(`cannot write an output of type '${type}' as .npy`);
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(", ")})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += " ".repeat(pad % 64) + "\n";
  const pre = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(pre);
  pre.writeUInt16LE(header.length, 8);
  let body;
  if (type === "bool" && !(data instanceof Uint8Array)) {
    body = Buffer.from(Uint8Array.from(data, (v) => (v ? 1 : 0)));
  } else {
    body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, "latin1"), body]));
}

// ---------------------------------------------------------------------------
// .npz (a zip archive of .npy files)

function readNpz(file) {
  const buf = fs.readFileSync(file);
  // End of central directory record: the last "PK\x05\x06".
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error(`${file}: not a zip/.npz file`);
  let entries = buf.readUInt16LE(eocd + 10);
  let cdOffset = buf.readUInt32LE(eocd + 16);
  if (cdOffset === 0xffffffff || entries === 0xffff) {
    // Zip64 end of central directory locator, just before the EOCD.
    const loc = eocd - 20;
    if (loc < 0 || buf.readUInt32LE(loc) !== 0x07064b50) {
      throw new Error(`${file}: zip64 archive without a locator`);
    }
    const rec = Number(buf.readBigUInt64LE(loc + 8));
    if (buf.readUInt32LE(rec) !== 0x06064b50) throw new Error(`${file}: bad zip64 record`);
    entries = Number(buf.readBigUInt64LE(rec + 32));
    cdOffset = Number(buf.readBigUInt64LE(rec + 48));
  }
  const arrays = {};
  let p = cdOffset;
  for (let n = 0; n < entries; n++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${file}: bad central directory`);
    const method = buf.readUInt16LE(p + 10);
    let csize = buf.readUInt32LE(p + 20);
    let usize = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    let local = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString("utf8");
    // Zip64 extended information: the fields that are 0xffffffff above, in order.
    let e = p + 46 + nameLen;
    const eEnd = e + extraLen;
    while (e + 4 <= eEnd) {
      const id = buf.readUInt16LE(e);
      const len = buf.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        if (usize === 0xffffffff) { usize = Number(buf.readBigUInt64LE(q)); q += 8; }
        if (csize === 0xffffffff) { csize = Number(buf.readBigUInt64LE(q)); q += 8; }
        if (local === 0xffffffff) { local = Number(buf.readBigUInt64LE(q)); q += 8; }
      }
      e += 4 + len;
    }
    p = eEnd + commentLen;
    if (buf.readUInt32LE(local) !== 0x04034b50) throw new Error(`${file}: bad local header for ${name}`);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(start, start + csize);
    let data;
    if (method === 0) data = raw;
    else if (method === 8) data = zlib.inflateRawSync(raw);
    else throw new Error(`${file}: ${name}: unsupported zip compression method ${method}`);
    if (data.length !== usize) throw new Error(`${file}: ${name}: size mismatch`);
    if (!name.endsWith(".npy")) continue;
    arrays[name.slice(0, -4)] = parseNpy(data, `${file}:${name}`);
  }
  return arrays;
}

function readInputs(where) {
  let stat;
  try {
    stat = fs.statSync(where);
  } catch (e) {
    fail(`inputs '${where}' not found`);
  }
  if (stat.isDirectory()) {
    const arrays = {};
    for (const f of fs.readdirSync(where).sort()) {
      if (!f.endsWith(".npy")) continue;
      const file = path.join(where, f);
      arrays[f.slice(0, -4)] = parseNpy(fs.readFileSync(file), file);
    }
    return arrays;
  }
  return readNpz(where);
}

// ---------------------------------------------------------------------------

function parseArgs(argv) {
  const opts = {threads: 1, repeats: 1, warmup: null, optimize: true, positional: []};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (name) => {
      const v = argv[++i];
      const n = Number(v);
      if (v === undefined || !Number.isInteger(n) || n < 0) fail(`${name} needs a non-negative integer`, 2);
      return n;
    };
    if (a === "--threads") opts.threads = num(a);
    else if (a === "--repeats") opts.repeats = num(a);
    else if (a === "--warmup") opts.warmup = num(a);
    else if (a === "--no-optimize") opts.optimize = false;
    else if (a === "-h" || a === "--help") {
      const text = fs.readFileSync(__filename, "utf8").split("\n");
      const end = text.findIndex((l) => l.startsWith('"use strict"'));
      process.stdout.write(text.slice(1, end).map((l) => l.replace(/^\/\/ ?/, "")).join("\n"));
      process.exit(0);
    } else if (a.startsWith("--")) fail(`unknown option ${a} (see --help)`, 2);
    else opts.positional.push(a);
  }
  if (opts.positional.length !== 3) {
    fail("usage: ort_run.js MODEL.onnx INPUTS.npz|INPUT_DIR OUT_DIR [--threads N] " +
         "[--repeats R] [--warmup W] [--no-optimize]", 2);
  }
  if (opts.threads < 1) fail("--threads must be >= 1", 2);
  if (opts.repeats < 1) fail("--repeats must be >= 1", 2);
  if (opts.warmup === null) opts.warmup = opts.repeats > 1 ? 1 : 0;
  return opts;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const [modelPath, inputsPath, outDir] = opts.positional;
  if (!fs.existsSync(modelPath)) fail(`model '${modelPath}' not found`);
  let arrays;
  try {
    arrays = readInputs(inputsPath);
  } catch (e) {
    fail(e.message);
  }
  const ort = loadOrt();

  const t0 = process.hrtime.bigint();
  let session;
  try {
    session = await ort.InferenceSession.create(modelPath, {
      executionProviders: ["cpu"],
      intraOpNumThreads: opts.threads,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: opts.optimize ? "all" : "disabled",
    });
  } catch (e) {
    fail(`cannot load ${modelPath}: ${e.message}`);
  }
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;

  const feeds = {};
  const missing = session.inputNames.filter((n) => !(n in arrays));
  const extra = Object.keys(arrays).filter((n) => !session.inputNames.includes(n));
  if (missing.length || extra.length) {
    fail(`inputs do not match the model's: model takes [${session.inputNames.join(", ")}]` +
         (missing.length ? `, missing [${missing.join(", ")}]` : "") +
         (extra.length ? `, unknown [${extra.join(", ")}]` : ""));
  }
  for (const name of session.inputNames) {
    const a = arrays[name];
    feeds[name] = new ort.Tensor(a.type, a.data, a.dims);
  }

  let results;
  const times = [];
  try {
    for (let i = 0; i < opts.warmup; i++) await session.run(feeds);
    for (let i = 0; i < opts.repeats; i++) {
      const t = process.hrtime.bigint();
      results = await session.run(feeds);
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  } catch (e) {
    fail(`run failed: ${e.message}`);
  }

  fs.mkdirSync(outDir, {recursive: true});
  const outputs = [];
  session.outputNames.forEach((name, i) => {
    const t = results[name];
    const file = `out_${i}.npy`;
    try {
      writeNpy(path.join(outDir, file), t.type, t.dims, t.data);
    } catch (e) {
      fail(`output '${name}': ${e.message}`);
    }
    outputs.push({name, file, dtype: t.type, shape: Array.from(t.dims)});
  });
  const report = {
    model: modelPath,
    threads: opts.threads,
    repeats: opts.repeats,
    median_ms: median(times),
    times_ms: times,
    load_ms: loadMs,
    outputs,
  };
  fs.writeFileSync(path.join(outDir, "outputs.json"), JSON.stringify(report, null, 1) + "\n");
  process.stdout.write(JSON.stringify(report) + "\n");
  if (session.release) await session.release();
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
