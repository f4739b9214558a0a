'use strict';
/** Two projects: fast unit tests, and integration tests that use the real model. */
const base = {
  preset: 'ts-jest',
  testEnvironment: '<rootDir>/test/support/onnx-environment.js',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
};
module.exports = {
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.spec.ts'] },
    { ...base, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.spec.ts'] },
  ],
};
