/**
 * Jest runs the TypeScript sources through ts-jest (decorator metadata is needed by the chaincode).
 * tsconfig.json sets isolatedModules, so ts-jest transpiles each file on its own (type checking is
 * `npm run lint`'s job). @middy/core and @noble/* (the Fabric gateway's curves) ship only ES
 * modules, which Node 24 requires natively but Jest's module system does not (without Node's
 * experimental VM modules), so they are transpiled to CommonJS for Jest too.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Metrics (EMF on stdout) off unless a test turns them on: test/support/quiet-metrics.ts.
  setupFiles: ['<rootDir>/test/support/quiet-metrics.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
    '^.+/node_modules/@(middy|noble)/.+\\.js$': ['ts-jest', { tsconfig: { allowJs: true, isolatedModules: true, module: 'commonjs', target: 'ES2022' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!@middy/|@noble/)'],
  testTimeout: 120000,
};
