import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueCertificate, readCertificateRequest } from '../../lambdas/core/x509';

/**
 * lambdas/core/x509.ts against openssl: requests openssl makes are read and their signatures
 * checked; certificates it issues verify with openssl against the CA, with the subject and
 * extensions the CA chose.
 */
const dir = mkdtempSync(join(tmpdir(), 'chainfaas-x509-'));
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' }).toString();

function csr(name: string, keyArgs: string[], subject = '/OU=admin/CN=someone'): string {
  openssl('genpkey', ...keyArgs, '-out', `${name}.key`);
  return openssl('req', '-new', '-key', `${name}.key`, '-subj', subject);
}
const P256 = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];

// A CA like cryptogen's: EC P-256, self-signed, with a subject key identifier.
openssl('genpkey', ...P256, '-out', 'ca.key');
openssl('req', '-x509', '-new', '-key', 'ca.key', '-subj', '/C=US/O=example.org/CN=ca.example.org', '-days', '3650', '-out', 'ca.pem');
const caPem = readFileSync(join(dir, 'ca.pem'), 'utf8');
const caKey = createPrivateKey(readFileSync(join(dir, 'ca.key')));
const caSign = async (data: Buffer) => sign('sha256', data, caKey);

describe('readCertificateRequest', () => {
  it('reads an openssl P-256 request and ignores its subject', () => {
    const req = readCertificateRequest(csr('a', P256));
    expect(req.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it.each([
    ['not PEM', 'hello', /PEM/],
    ['a certificate, not a request', caPem, /PEM block of CERTIFICATE REQUEST/],
    ['truncated DER', '-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----', /PKCS#10/],
  ])('refuses %s', (_name, pem, message) => {
    expect(() => readCertificateRequest(pem)).toThrow(message);
  });

  it('refuses RSA and other curves', () => {
    expect(() => readCertificateRequest(csr('rsa', ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']))).toThrow(/EC P-256.*rsa/);
    expect(() => readCertificateRequest(csr('p384', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384']))).toThrow(/EC P-256.*secp384r1/);
  });

  it('refuses a request whose signature is not by its key', () => {
    const pem = csr('b', P256);
    const der = Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, ''), 'base64');
    der[der.length - 3] = (der[der.length - 3] as number) ^ 0x01;
    expect(() => readCertificateRequest(`-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`)).toThrow(
      /does not verify/,
    );
  });
});

describe('issueCertificate', () => {
  it('issues what openssl verifies against the CA, with the subject and extensions the CA chose', async () => {
    const req = readCertificateRequest(csr('c', P256));
    const now = new Date();
    const { pem, serial } = await issueCertificate({
      caCertificatePem: caPem,
      sign: caSign,
      spki: req.spki,
      subject: { o: 'example.org', ou: 'peer', cn: 'peer_x.example.org' },
      usage: 'tls',
      hosts: ['127.0.0.1', 'peer.example.org'],
      validDays: 30,
      now,
    });
    expect(serial).toMatch(/^[0-9a-f]{32}$/);
    const cert = new X509Certificate(pem);
    expect(cert.subject).toBe('O=example.org\nOU=peer\nCN=peer_x.example.org');
    expect(cert.subjectAltName).toBe('IP Address:127.0.0.1, DNS:peer.example.org');
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
    expect(new Date(cert.validFrom).getTime()).toBeLessThanOrEqual(now.getTime());
    writeFileSync(join(dir, 'leaf.pem'), pem);
    expect(openssl('verify', '-CAfile', 'ca.pem', 'leaf.pem')).toMatch(/leaf.pem: OK/);
    const text = openssl('x509', '-in', 'leaf.pem', '-noout', '-text');
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Key Encipherment/);
    expect(text).toMatch(/Authority Key Identifier/);
  });

  it('never starts before the CA nor outlives it', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const ca = new X509Certificate(caPem);
    const { pem } = await issueCertificate({
      caCertificatePem: caPem,
      sign: caSign,
      spki,
      subject: { ou: 'peer', cn: 'p' },
      usage: 'identity',
      validDays: 100_000,
      now: new Date(ca.validFrom),
    });
    const cert = new X509Certificate(pem);
    expect(new Date(cert.validFrom).getTime()).toBe(new Date(ca.validFrom).getTime());
    expect(new Date(cert.validTo).getTime()).toBe(new Date(ca.validTo).getTime());
  });
});
