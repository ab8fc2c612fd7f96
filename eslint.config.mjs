// One linter (typescript-eslint, recommended rules) over the TypeScript sources; prettier formats.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'cdk.out/**', 'node_modules/**', 'chaincode/dist/**', 'portal/vendor/**', 'coverage/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['lambdas/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['@aws-sdk/*', '@middy/*', '@aws-lambda-powertools/*', 'aws-lambda'], message: 'lambdas/core imports nothing AWS, nothing middy and no Powertools: put it in an adapter (lambdas/core/ports.ts Telemetry for counters and logs).' }] }],
    },
  },
  {
    files: ['contract/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/lambdas/**', '**/provider-agent/**', '**/portal/**', '**/cli/**', '**/local/**', '@aws-sdk/*', '@middy/*'],
              message: 'contract/ is the wire format only: it imports zod and Node built-ins, nothing of the controller, the agent, the portal, the CLI or local mode.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['provider-agent/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/lambdas/**', '**/portal/**', '**/cli/**', '**/local/**', '**/lib/**', '**/bench/**', '**/chaincode/**'],
              message: 'the provider agent is its own package: of the repository it imports only contract/ (pack.mjs inlines it).',
            },
          ],
        },
      ],
    },
  },
);
