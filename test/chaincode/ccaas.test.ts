import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tempDir } from './harness';

/**
 * The chaincode-as-a-service package and the peer-side builder in chaincode/network. (The
 * service itself, serve.sh, runs under the contract suite's fabric-shim harness.)
 */

const network = resolve(__dirname, '../../chaincode/network');
const run = (command: string, args: string[]) => execFileSync(command, args, { encoding: 'utf8' });

describe('chaincode as a service', () => {
  const { dir, remove } = tempDir('chainfaas-ccaas-');
  afterAll(remove);

  it('packages deterministically and names the package by label and SHA-256, as the peer does', () => {
    const first = run(join(network, 'package-ccaas.sh'), [join(dir, 'a.tgz'), '127.0.0.1:9999', 'chainfaas_1.0']).trim();
    const second = run(join(network, 'package-ccaas.sh'), [join(dir, 'b.tgz'), '127.0.0.1:9999', 'chainfaas_1.0']).trim();
    const digest = createHash('sha256').update(readFileSync(join(dir, 'a.tgz'))).digest('hex');
    expect(first).toBe(`chainfaas_1.0:${digest}`);
    expect(second).toBe(first);
    const other = run(join(network, 'package-ccaas.sh'), [join(dir, 'c.tgz'), '127.0.0.1:9998']).trim();
    expect(other).not.toBe(first);
  });

  it("runs the builder's detect, build and release steps on the package", () => {
    run(join(network, 'package-ccaas.sh'), [join(dir, 'pkg.tgz'), '127.0.0.1:7777']);
    const [metadata, source, output, release] = ['metadata', 'source', 'output', 'release'].map((name) => join(dir, name)) as [string, string, string, string];
    for (const d of [metadata, source, output, release]) mkdirSync(d);
    run('tar', ['-C', metadata, '-xzf', join(dir, 'pkg.tgz')]);
    run('tar', ['-C', source, '-xzf', join(metadata, 'code.tar.gz')]);
    const bin = join(network, 'ccaas-builder/bin');
    run(join(bin, 'detect'), [source, metadata]);
    run(join(bin, 'build'), [source, metadata, output]);
    run(join(bin, 'release'), [output, release]);
    expect(JSON.parse(readFileSync(join(release, 'chaincode/server/connection.json'), 'utf8'))).toEqual({ address: '127.0.0.1:7777', dial_timeout: '10s', tls_required: false });
    // A package of another type is not claimed.
    const golang = join(dir, 'golang');
    mkdirSync(golang);
    run('sh', ['-c', `printf '{"type":"golang","label":"x"}' > ${golang}/metadata.json`]);
    expect(() => run(join(bin, 'detect'), [source, golang])).toThrow();
  });
});
