'use strict';
// Jest runs each test file in its own vm context with its own typed-array constructors, and
// onnxruntime-node checks `data instanceof Float32Array` against the host's. Sharing the host
// constructors with the sandbox makes tensors built in tests acceptable to the native binding.
const { TestEnvironment } = require('jest-environment-node');

const SHARED = ['ArrayBuffer', 'SharedArrayBuffer', 'Uint8Array', 'Int8Array', 'Uint16Array', 'Int16Array',
  'Uint32Array', 'Int32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array', 'DataView'];

class OnnxEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}
module.exports = OnnxEnvironment;
