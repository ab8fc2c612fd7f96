import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import type { CfnResource } from 'aws-cdk-lib';
import { HANDLERS, type HandlerName } from '../../lambdas/handlers/manifest';
import { OPTIONAL_NATIVE_MODULES } from '../../lib/constructs/platform-function';
import { synthControllerStack, type SynthesisedStack } from './helpers';

/**
 * The one test that bundles every handler with esbuild, as `cdk synth` does: it fails when a
 * handler (or anything it imports) cannot be bundled, which the other CDK tests skip for speed.
 */
describe('bundling every manifest handler', () => {
  let synth: SynthesisedStack;
  let assemblyDir: string;
  beforeAll(() => {
    synth = synthControllerStack({}, { bundle: true });
    assemblyDir = synth.app.synth().directory;
  }, 300_000);

  test.each(Object.keys(HANDLERS) as HandlerName[])('%s is a self-contained bundle with a linked source map', (name) => {
    const fn = synth.stack.functions[name];
    const code = synth.template.toJSON().Resources[synth.stack.getLogicalId(fn.node.defaultChild as CfnResource)].Properties.Code;
    const hash = String(code.S3Key).replace(/\.zip$/, '');
    const dir = join(assemblyDir, `asset.${hash}`);
    expect(existsSync(join(dir, 'index.js'))).toBe(true);
    expect(existsSync(join(dir, 'index.js.map'))).toBe(true);
    const js = readFileSync(join(dir, 'index.js'), 'utf8');
    expect(js.trimEnd().endsWith('//# sourceMappingURL=index.js.map')).toBe(true);
    const packages = [...new Set([...js.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]))].filter(
      (m) => !m.startsWith('node:') && !builtinModules.includes(m),
    );
    // Only optional modules loaded lazily may be left outside: the SDK's CRT signer (inside a
    // try/catch) and the native add-ons PlatformFunction leaves out.
    // ajv (input schemas, issue #23) carries `require("ajv/dist/runtime/…")` as source text for the
    // code of its standalone mode only; compiled validators take those functions from their scope.
    const standaloneText = (p: string) => p.startsWith('ajv/dist/runtime/');
    expect(packages.filter((p) => p !== '@aws-sdk/signature-v4-crt' && !OPTIONAL_NATIVE_MODULES.includes(p) && !standaloneText(p))).toEqual([]);
  });
});
