import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The repository root: the nearest ancestor of this file that holds `cdk.json`.
 *
 * The CDK code runs from three places — the TypeScript sources under ts-jest (`lib/`), the
 * esbuild bundle that `cdk.json` runs (`dist/cdk/`), and the `tsc` output (`dist/lib/`) — so a
 * fixed `../..` would be right for only one of them. Handler entries in the manifest are relative
 * to this directory.
 */
export function projectRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'cdk.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no cdk.json above ${from}: run the CDK app from the ChainFaaS repository`);
  }
}
