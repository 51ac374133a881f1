// Reference detections, 68 landmarks and 128-d descriptors from face-api 1.7.15 (Node, tfjs wasm backend)
// for every photo under assets/faces, so the PyTorch ports can be checked against the original.
//
// Generate (from the repo root):
//   NODE_PATH=/work/scratch/node/node_modules node tools/reference/faceapi_reference.js
// Env: FACEAPI_MODEL_DIR (default /work/scratch/node/node_modules/@vladmandic/face-api/model),
//      INFOSWAP_PYTHON (default .venv/bin/python), OUT (default tests/fixtures/faceapi_reference.json).
//
// Output: {generator, command, versions, decoder, options, images: {"assets/faces/...jpg": [{box: [x1, y1, x2, y2],
//   score, landmarks68: [[x, y] x68], descriptor: [128]}]}} in image pixels, floats rounded to 4 decimals,
//   faces in face-api's order (by descending detector score).
//
// Decoding: each JPEG is decoded by Python (`infoswap.io.images.read_image`: Pillow + EXIF orientation)
// and piped here as raw RGB bytes, so Node and the Python ports see bit-identical pixels.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const tf = require('@tensorflow/tfjs');
require('@tensorflow/tfjs-backend-wasm');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

const MODEL_DIR = process.env.FACEAPI_MODEL_DIR || '/work/scratch/node/node_modules/@vladmandic/face-api/model';
const PYTHON = process.env.INFOSWAP_PYTHON || '.venv/bin/python';
const OUT = process.env.OUT || 'tests/fixtures/faceapi_reference.json';
const OPTIONS = { minConfidence: 0.5, maxResults: 100 };

const DECODE = [
  'import sys',
  'from infoswap.io.images import read_image',
  'p = read_image(sys.argv[1]).pixels',
  'sys.stdout.buffer.write(f"{p.shape[0]} {p.shape[1]}\\n".encode() + p.tobytes())',
].join('\n');

function decode(file) {
  const raw = execFileSync(PYTHON, ['-c', DECODE, file], { maxBuffer: 1 << 28 });
  const newline = raw.indexOf(10);
  const [h, w] = raw.subarray(0, newline).toString().split(' ').map(Number);
  const pixels = new Int32Array(raw.subarray(newline + 1));
  if (pixels.length !== h * w * 3) throw new Error(`${file}: decoded ${pixels.length} values for ${h}x${w}`);
  return tf.tensor3d(pixels, [h, w, 3], 'int32');
}

function listImages() {
  const groups = fs.readdirSync('assets/faces/groups').filter((f) => f.endsWith('.jpg')).sort()
    .map((f) => `assets/faces/groups/${f}`);
  const identities = fs.readdirSync('assets/faces/identities').sort().flatMap((id) =>
    fs.readdirSync(`assets/faces/identities/${id}`).filter((f) => f.endsWith('.jpg')).sort()
      .map((f) => `assets/faces/identities/${id}/${f}`));
  return groups.concat(identities);
}

const r4 = (v) => Math.round(v * 1e4) / 1e4;

(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(MODEL_DIR);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(MODEL_DIR);
  await faceapi.nets.faceRecognitionNet.loadFromDisk(MODEL_DIR);
  const images = {};
  for (const file of listImages()) {
    const tensor = decode(file);
    const results = await faceapi
      .detectAllFaces(tensor, new faceapi.SsdMobilenetv1Options(OPTIONS))
      .withFaceLandmarks()
      .withFaceDescriptors();
    tensor.dispose();
    images[file] = results.map((r) => {
      const b = r.detection.box;
      return {
        box: [b.x, b.y, b.x + b.width, b.y + b.height].map(r4),
        score: r4(r.detection.score),
        landmarks68: r.landmarks.positions.map((p) => [r4(p.x), r4(p.y)]),
        descriptor: Array.from(r.descriptor, r4),
      };
    });
    console.error(`${file}: ${results.length} face(s)`);
  }
  const out = {
    generator: 'tools/reference/faceapi_reference.js',
    command: 'NODE_PATH=/work/scratch/node/node_modules node tools/reference/faceapi_reference.js',
    versions: { 'face-api': faceapi.version, tfjs: tf.version.tfjs, backend: tf.getBackend(), node: process.version },
    decoder: 'infoswap.io.images.read_image (Pillow, EXIF applied), raw RGB piped to Node',
    options: { detector: 'SsdMobilenetv1Options', ...OPTIONS, landmarks: 'faceLandmark68Net', descriptor: 'faceRecognitionNet' },
    images,
  };
  const tmp = `${OUT}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(out));
  fs.renameSync(tmp, OUT);
  console.error(`wrote ${OUT}`);
})().catch((e) => { console.error(e); process.exit(1); });
