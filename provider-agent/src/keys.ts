import { createPrivateKey } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPair, KeyPairPem } from '../../contract/src';
import { ConfigError } from './config';

/**
 * The provider's Ed25519 key pair. It is generated on the provider's machine at registration;
 * the private key stays in the config directory (mode 0600) and signs every run-time report,
 * the public key is sent to the controller and recorded on the ledger.
 */

export const PRIVATE_KEY_FILE = 'provider-key.pem';
export const PUBLIC_KEY_FILE = 'provider-key.pub.pem';

/** Generates a key pair into `dir`; refuses to overwrite an existing private key unless `replace`. */
export function createProviderKeys(dir: string, replace = false): KeyPairPem {
  const privatePath = join(dir, PRIVATE_KEY_FILE);
  if (existsSync(privatePath) && !replace) {
    throw new ConfigError(`${privatePath} already exists: this machine is registered already (pass --force to register again with a new key)`);
  }
  const keys = generateKeyPair();
  writeFileSync(privatePath, keys.privateKeyPem, { mode: 0o600 });
  chmodSync(privatePath, 0o600); // the mode option does not apply when the file already existed
  writeFileSync(join(dir, PUBLIC_KEY_FILE), keys.publicKeyPem, { mode: 0o644 });
  return keys;
}

/** Reads the private key from `dir`; refuses a key file that others may read. */
export function loadPrivateKey(dir: string): string {
  const path = join(dir, PRIVATE_KEY_FILE);
  if (!existsSync(path)) throw new ConfigError(`${path} not found: run \`chainfaas-provider register\` first`);
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) throw new ConfigError(`${path} has mode ${mode.toString(8)}: the private key must be readable by its owner only (chmod 600)`);
  const pem = readFileSync(path, 'utf8');
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${path} is not an Ed25519 private key`);
  return pem;
}
