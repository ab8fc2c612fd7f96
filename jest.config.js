/** Jest runs the TypeScript sources through ts-jest (decorator metadata is needed by the chaincode). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true, tsconfig: 'tsconfig.json' }] },
  testTimeout: 120000,
  globalSetup: undefined,
};
