// langvad scene describer: object detection worker (CenterNet/COCO from @vladmandic/human,
// TF.js on the WebAssembly backend, single thread, no network).
//
// Usage: node human_worker.js <node_modules dir>
// Protocol (JSON lines): the worker first prints {"ready": true, ...} (or {"fatal": msg} and
// exits 2). Each request line {"id": n, "w": W, "h": H, "rgb": base64 of W*H*3 RGB bytes}
// gets one reply line {"id": n, "objects": [{"label", "score", "box": [x, y, w, h] (0..1)}]}
// or {"id": n, "error": msg}. Closing stdin ends the worker.
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');

const nodeModules = process.argv[2];
const minScore = Number(process.argv[3] || '0.2');

function send(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function fail(msg) {
  send({ fatal: msg });
  process.exit(2);
}

if (!nodeModules || !fs.existsSync(nodeModules)) fail(`node_modules not found: ${nodeModules}`);
const humanDir = path.join(nodeModules, '@vladmandic', 'human');
const humanJs = path.join(humanDir, 'dist', 'human.node-wasm.js'); // exports map lacks it
const wasmDir = path.join(nodeModules, '@tensorflow', 'tfjs-backend-wasm', 'dist');
const modelDir = path.join(humanDir, 'models');
for (const p of [humanJs, path.join(wasmDir, 'tfjs-backend-wasm.wasm'), path.join(modelDir, 'centernet.json')]) {
  if (!fs.existsSync(p)) fail(`missing file: ${p}`);
}

// Models are read from disk: replace fetch with a local-file reader (no network is used).
globalThis.fetch = async (url) => {
  let p = String(url);
  if (p.startsWith('file://')) p = p.slice('file://'.length);
  const body = await fs.promises.readFile(p);
  const type = p.endsWith('.json') ? 'application/json' : 'application/octet-stream';
  return new Response(body, { status: 200, headers: { 'content-type': type } });
};

const config = {
  backend: 'wasm',
  wasmPath: `${wasmDir}/`,
  modelBasePath: `file://${modelDir}/`,
  debug: false,
  async: false,
  warmup: 'none',
  cacheModels: false,
  cacheSensitivity: 0, // never reuse results of a previous (similar) frame
  skipAllowed: false,
  filter: { enabled: false },
  face: { enabled: false },
  body: { enabled: false },
  hand: { enabled: false },
  gesture: { enabled: false },
  segmentation: { enabled: false },
  object: {
    enabled: true,
    modelPath: 'centernet.json',
    minConfidence: minScore,
    iouThreshold: 0.4,
    maxDetected: 50,
    skipFrames: 0,
    skipTime: 0,
  },
};

async function main() {
  const { Human } = require(humanJs);
  const human = new Human(config);
  await human.load();
  const tf = human.tf;
  await tf.ready();
  send({ ready: true, backend: tf.getBackend(), human: human.version, tfjs: tf.version_core });

  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line.trim()) continue;
    let id = null;
    try {
      const req = JSON.parse(line);
      id = req.id;
      const buf = Buffer.from(req.rgb, 'base64');
      if (buf.length !== req.w * req.h * 3) throw new Error(`expected ${req.w * req.h * 3} bytes, got ${buf.length}`);
      const input = tf.tidy(() => {
        const img = tf.tensor3d(new Uint8Array(buf.buffer, buf.byteOffset, buf.length), [req.h, req.w, 3], 'int32');
        return tf.expandDims(tf.cast(img, 'float32'), 0);
      });
      let res;
      try {
        res = await human.detect(input);
      } finally {
        tf.dispose(input);
      }
      if (res.error) throw new Error(String(res.error));
      const objects = (res.object || []).map((o) => ({
        label: o.label,
        score: Math.round(o.score * 1000) / 1000,
        box: o.boxRaw.map((v) => Math.round(v * 10000) / 10000),
      }));
      send({ id, objects });
    } catch (err) {
      send({ id, error: String(err && err.message ? err.message : err) });
    }
  }
}

main().catch((err) => fail(String(err && err.stack ? err.stack : err)));
