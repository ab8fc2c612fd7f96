import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certificateKey, issueCertificate, readCertificateRequest } from '../../lambdas/core/x509';

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
/** The values of the elements inside one DER SEQUENCE (short or long lengths). */
function derChildren(der: Buffer): Buffer[] {
  const read = (buf: Buffer, at: number): { value: Buffer; end: number } => {
    let len = buf[at + 1] as number;
    let head = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + (buf[at + 2 + i] as number);
      head += n;
    }
    return { value: buf.subarray(at + head, at + head + len), end: at + head + len };
  };
  const outer = read(der, 0).value;
  const out: Buffer[] = [];
  for (let at = 0; at < outer.length;) {
    const child = read(outer, at);
    out.push(child.value);
    at = child.end;
  }
  return out;
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

  it('signs with a low S every time (Fabric rewrites a high-S certificate, which would change its bytes)', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const n = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
    for (let i = 0; i < 40; i++) {
      const { pem } = await issueCertificate({
        caCertificatePem: caPem,
        sign: caSign,
        spki,
        subject: { ou: 'peer', cn: `p${i}` },
        usage: 'identity',
        validDays: 1,
        now: new Date(),
      });
      const cert = new X509Certificate(pem);
      expect(cert.verify(new X509Certificate(caPem).publicKey)).toBe(true);
      // Certificate = SEQUENCE { tbs, algorithm, BIT STRING { 00, SEQUENCE { INTEGER r, INTEGER s } } }.
      const [, , bits] = derChildren(cert.raw);
      const [, sInt] = derChildren((bits as Buffer).subarray(1));
      expect(BigInt('0x' + (sInt as Buffer).toString('hex')) <= n / 2n).toBe(true);
    }
  });

  it('names a certificate by its signed content: the same after its signature is re-encoded, distinct per certificate', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const issue = async () =>
      (
        await issueCertificate({
          caCertificatePem: caPem,
          sign: caSign,
          spki,
          subject: { ou: 'peer', cn: 'p' },
          usage: 'identity',
          validDays: 1,
          now: new Date(),
        })
      ).pem;
    const [a, b] = [await issue(), await issue()];
    expect(certificateKey(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(certificateKey(a)).not.toBe(certificateKey(b));
    // The same certificate with its signature's S replaced by n - S (what Fabric undoes): same key.
    const raw = new X509Certificate(a).raw;
    const [, , bits] = derChildren(raw);
    const [rInt, sInt] = derChildren((bits as Buffer).subarray(1));
    const n = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
    const highS = (n - BigInt('0x' + (sInt as Buffer).toString('hex'))).toString(16).padStart(64, '0');
    const int = (hex: Buffer) => Buffer.concat([Buffer.from([0x02, hex.length]), hex]);
    const sigSeq = (r: Buffer, s: Buffer) => {
      const body = Buffer.concat([int(r), int(s)]);
      return Buffer.concat([Buffer.from([0x30, body.length]), body]);
    };
    const hs = Buffer.from(highS, 'hex');
    const highSig = sigSeq(rInt as Buffer, (hs[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), hs]) : hs);
    const sigStart = raw.length - (bits as Buffer).length;
    const rebuilt = Buffer.concat([raw.subarray(0, sigStart - 2), Buffer.from([0x03, highSig.length + 1, 0]), highSig]);
    const body = rebuilt.subarray(4); // the outer SEQUENCE's header is 30 82 LL LL (certificates of this size)
    const cert = Buffer.concat([Buffer.from([0x30, 0x82, body.length >> 8, body.length & 0xff]), body]);
    const pem = `-----BEGIN CERTIFICATE-----\n${cert.toString('base64')}\n-----END CERTIFICATE-----\n`;
    expect(new X509Certificate(pem).fingerprint256).not.toBe(new X509Certificate(a).fingerprint256);
    expect(certificateKey(pem)).toBe(certificateKey(a));
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
