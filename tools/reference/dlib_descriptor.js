// face-api's recogniser on raw 150×150 RGB inputs, to check the PyTorch port layer for layer.
//
//   NODE_PATH=/work/scratch/node/node_modules node tools/reference/dlib_descriptor.js IN.u8 N > OUT.json
//
// IN.u8 holds N images, each 150×150×3 uint8 (H, W, RGB). Prints a JSON list of N 128-d descriptors
// (face-api's raw output, not normalised).
'use strict';
const fs = require('fs');
const tf = require('@tensorflow/tfjs');
require('@tensorflow/tfjs-backend-wasm');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

const MODEL_DIR = process.env.FACEAPI_MODEL_DIR || '/work/scratch/node/node_modules/@vladmandic/face-api/model';

(async () => {
  const [file, count] = [process.argv[2], Number(process.argv[3])];
  await tf.setBackend('wasm');
  await tf.ready();
  await faceapi.nets.faceRecognitionNet.loadFromDisk(MODEL_DIR);
  const bytes = fs.readFileSync(file);
  const size = 150 * 150 * 3;
  if (bytes.length !== count * size) throw new Error(`${file}: ${bytes.length} bytes for ${count} images`);
  const out = [];
  for (let i = 0; i < count; i += 1) {
    const t = tf.tensor3d(new Int32Array(bytes.subarray(i * size, (i + 1) * size)), [150, 150, 3], 'int32');
    out.push(Array.from(await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(t)));
    t.dispose();
  }
  process.stdout.write(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
