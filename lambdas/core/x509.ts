import { createHash, createPublicKey, KeyObject, randomBytes, verify, X509Certificate } from 'node:crypto';
import { isIPv4 } from 'node:net';

/**
 * Just enough X.509 for the controller to act as its Fabric organisation's CA for peer operators
 * (use-cases/peers.ts): read a PKCS#10 certificate request (PEM), check its key (EC P-256) and its
 * signature (proof that the requester holds the key), and build a certificate for that key whose
 * subject and extensions the controller chooses — never the request's. DER is encoded and decoded
 * here (node:crypto builds no certificates); the CA's signature comes from a callback, so the key
 * may live in a file, Secrets Manager or a KMS.
 */

// ------------------------------------------------------------------ DER
interface Tlv {
  tag: number;
  /** The whole element (tag, length, value). */
  raw: Buffer;
  value: Buffer;
}

function readTlv(buf: Buffer, at: number): Tlv & { end: number } {
  if (at + 2 > buf.length) throw new Error('truncated DER');
  const tag = buf[at] as number;
  let len = buf[at + 1] as number;
  let head = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || at + 2 + n > buf.length) throw new Error('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[at + 2 + i] as number);
    head += n;
  }
  const end = at + head + len;
  if (end > buf.length) throw new Error('truncated DER');
  return { tag, raw: buf.subarray(at, end), value: buf.subarray(at + head, end), end };
}

/** The single element `buf` holds (trailing bytes refused). */
function one(buf: Buffer): Tlv {
  const tlv = readTlv(buf, 0);
  if (tlv.end !== buf.length) throw new Error('trailing bytes after DER');
  return tlv;
}

/** The elements of a constructed value. */
function children(tlv: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = 0; at < tlv.value.length;) {
    const child = readTlv(tlv.value, at);
    out.push(child);
    at = child.end;
  }
  return out;
}

function expect(tlv: Tlv | undefined, tag: number, what: string): Tlv {
  if (!tlv || tlv.tag !== tag) throw new Error(`${what} is missing or malformed`);
  return tlv;
}

function der(tag: number, ...parts: Buffer[]): Buffer {
  const value = Buffer.concat(parts);
  const len = value.length;
  let head: Buffer;
  if (len < 0x80) head = Buffer.from([tag, len]);
  else {
    const bytes: number[] = [];
    for (let n = len; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
    head = Buffer.from([tag, 0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([head, value]);
}

const seq = (...parts: Buffer[]) => der(0x30, ...parts);
const set = (...parts: Buffer[]) => der(0x31, ...parts);
const octets = (b: Buffer) => der(0x04, b);
const bitString = (b: Buffer, unused = 0) => der(0x03, Buffer.from([unused]), b);
const bool = (v: boolean) => der(0x01, Buffer.from([v ? 0xff : 0]));
const utf8 = (s: string) => der(0x0c, Buffer.from(s, 'utf8'));

function integer(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0 && ((b[i + 1] as number) & 0x80) === 0) i++;
  const v = b.subarray(i);
  return der(0x02, (v[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const bytes: number[] = [40 * (parts[0] as number) + (parts[1] as number)];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let n = Math.floor(p / 128); n > 0; n = Math.floor(n / 128)) chunk.unshift(0x80 | (n & 0x7f));
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}

function readOid(tlv: Tlv): string {
  const b = tlv.value;
  const out = [Math.floor((b[0] as number) / 40), (b[0] as number) % 40];
  let n = 0;
  for (const byte of b.subarray(1)) {
    n = n * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      out.push(n);
      n = 0;
    }
  }
  return out.join('.');
}

function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  // UTCTime up to 2049, GeneralizedTime after (RFC 5280 4.1.2.5).
  return d.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(iso.slice(2), 'ascii')) : der(0x18, Buffer.from(iso, 'ascii'));
}

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  cn: '2.5.4.3',
  o: '2.5.4.10',
  ou: '2.5.4.11',
  subjectKeyId: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyId: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};

// ------------------------------------------------------------------ PEM
export function pemBody(pem: string, labels: readonly string[]): Buffer {
  const match = /^-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n?-----END \1-----\s*$/.exec(pem.trim() + '\n');
  if (!match || !labels.includes(match[1] as string)) throw new Error(`is not a PEM block of ${labels.join(' or ')}`);
  return Buffer.from((match[2] as string).replace(/[\r\n]/g, ''), 'base64');
}

export const toPem = (label: string, der: Buffer): string =>
  `-----BEGIN ${label}-----\n${der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END ${label}-----\n`;

// ------------------------------------------------------------------ certificate requests
export interface CertificateRequest {
  /** The requester's public key (SubjectPublicKeyInfo, DER) */
  spki: Buffer;
  publicKey: KeyObject;
}

/**
 * Reads a PEM PKCS#10 request and checks it: an EC P-256 key and a valid ECDSA-SHA256 signature
 * by that key. Throws an Error whose message says what is wrong (the caller names the field).
 * The request's subject and attributes are ignored: the CA decides them.
 */
export function readCertificateRequest(pem: string): CertificateRequest {
  const body = pemBody(pem, ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST']);
  let info: Tlv, alg: Tlv, sig: Tlv, spkiTlv: Tlv;
  try {
    const [i, a, s] = children(expect(one(body), 0x30, 'the request'));
    info = expect(i, 0x30, 'certificationRequestInfo');
    alg = expect(a, 0x30, 'signatureAlgorithm');
    sig = expect(s, 0x03, 'signature');
    spkiTlv = expect(children(info)[2], 0x30, 'subjectPKInfo');
  } catch (err) {
    throw new Error(`is not a PKCS#10 certificate request (${(err as Error).message})`, { cause: err });
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: spkiTlv.raw, format: 'der', type: 'spki' });
  } catch {
    throw new Error('has a public key node cannot read');
  }
  const curve = publicKey.asymmetricKeyDetails?.namedCurve;
  if (publicKey.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') {
    throw new Error(
      `must be for an EC P-256 key (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256); got ${publicKey.asymmetricKeyType}${curve ? ' ' + curve : ''}`,
    );
  }
  const algOid = children(alg)[0];
  if (!algOid || algOid.tag !== 0x06 || readOid(algOid) !== OID.ecdsaWithSha256) throw new Error('must be signed with ECDSA-SHA256');
  if (sig.value[0] !== 0 || !verify('sha256', info.raw, publicKey, sig.value.subarray(1))) {
    throw new Error('has a signature that does not verify with its own key');
  }
  return { spki: spkiTlv.raw, publicKey };
}

// ------------------------------------------------------------------ certificates
/** The parts of a CA's certificate a certificate it issues refers to. */
interface IssuerInfo {
  subject: Buffer;
  keyId?: Buffer;
  notBefore: Date;
  notAfter: Date;
}

function issuerInfo(caPem: string): IssuerInfo {
  const cert = new X509Certificate(caPem);
  const [tbs] = children(one(cert.raw));
  const fields = children(expect(tbs, 0x30, 'tbsCertificate'));
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0;
  const subject = expect(fields[offset + 4], 0x30, 'subject').raw;
  let keyId: Buffer | undefined;
  const exts = fields.find((f) => f.tag === 0xa3);
  if (exts) {
    for (const ext of children(expect(children(exts)[0], 0x30, 'extensions'))) {
      const [id, ...rest] = children(ext);
      if (id && readOid(id) === OID.subjectKeyId) keyId = one((rest[rest.length - 1] as Tlv).value).value;
    }
  }
  return { subject, keyId, notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo) };
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
}

export interface IssueRequest {
  /** The CA's certificate (PEM): issuer name, key identifier, end of validity. */
  caCertificatePem: string;
  /** Signs with the CA's key: ECDSA over SHA-256 of `tbs`, DER-encoded signature. */
  sign: (tbs: Buffer) => Promise<Buffer>;
  /** The subject's public key (SPKI DER), from a checked request. */
  spki: Buffer;
  /** Subject: O, OU, CN (the CA's choice). */
  subject: { o?: string; ou: string; cn: string };
  /** `identity`: digital signatures only; `tls`: server and client authentication for `hosts`. */
  usage: 'identity' | 'tls';
  hosts?: string[];
  validDays: number;
  now: Date;
}

/** The order of P-256's base point. */
const P256_N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

/**
 * An ECDSA signature (DER) in its low-S form (s <= n/2). Fabric's MSP rewrites a certificate whose
 * signature has a high S into the low-S form before using it, so a certificate issued with a high
 * S would not be byte-for-byte the identity the peer presents (its fingerprint would differ).
 */
function lowS(signature: Buffer): Buffer {
  const [r, sTlv] = children(expect(one(signature), 0x30, 'the signature'));
  const sValue = BigInt('0x' + (expect(sTlv, 0x02, 's').value.toString('hex') || '0'));
  if (sValue <= P256_N / 2n) return signature;
  const low = (P256_N - sValue).toString(16);
  return seq((r as Tlv).raw, integer(Buffer.from(low.length % 2 ? '0' + low : low, 'hex')));
}

/** Builds, signs and self-checks a certificate; returns its PEM and serial number (hex). */
export async function issueCertificate(req: IssueRequest): Promise<{ pem: string; serial: string }> {
  const issuer = issuerInfo(req.caCertificatePem);
  const serialBytes = randomBytes(16);
  serialBytes[0] = ((serialBytes[0] as number) & 0x7f) | 0x40;
  // A little before now (clocks differ), but never before the CA's own start: Fabric's MSP checks
  // the whole chain at the moment the leaf starts to be valid.
  const notBefore = new Date(Math.max(req.now.getTime() - 5 * 60_000, issuer.notBefore.getTime()));
  const wanted = new Date(req.now.getTime() + req.validDays * 86_400_000);
  const notAfter = wanted < issuer.notAfter ? wanted : issuer.notAfter;
  const rdn = (id: string, value: string) => set(seq(oid(id), utf8(value)));
  const subject = seq(...(req.subject.o ? [rdn(OID.o, req.subject.o)] : []), rdn(OID.ou, req.subject.ou), rdn(OID.cn, req.subject.cn));
  const spkiFields = children(one(req.spki));
  const keyBits = (spkiFields[1] as Tlv).value.subarray(1);
  const exts: Buffer[] = [
    extension(OID.keyUsage, true, req.usage === 'tls' ? bitString(Buffer.from([0xa0]), 5) : bitString(Buffer.from([0x80]), 7)),
    extension(OID.basicConstraints, true, seq()),
    extension(OID.subjectKeyId, false, octets(createHash('sha256').update(keyBits).digest())),
  ];
  if (issuer.keyId) exts.push(extension(OID.authorityKeyId, false, seq(der(0x80, issuer.keyId))));
  if (req.usage === 'tls') {
    exts.push(extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth), oid(OID.clientAuth))));
    const names = (req.hosts ?? []).map((h) => (isIPv4(h) ? der(0x87, Buffer.from(h.split('.').map(Number))) : der(0x82, Buffer.from(h, 'ascii'))));
    if (names.length) exts.push(extension(OID.subjectAltName, false, seq(...names)));
  }
  const algorithm = seq(oid(OID.ecdsaWithSha256));
  const tbs = seq(
    der(0xa0, integer(Buffer.from([2]))),
    integer(serialBytes),
    algorithm,
    issuer.subject,
    seq(time(notBefore), time(notAfter)),
    subject,
    req.spki,
    der(0xa3, seq(...exts)),
  );
  const signature = lowS(await req.sign(tbs));
  const pem = toPem('CERTIFICATE', seq(tbs, algorithm, bitString(signature)));
  const check = new X509Certificate(pem);
  if (!check.verify(new X509Certificate(req.caCertificatePem).publicKey)) throw new Error('the issued certificate does not verify with the CA key');
  return { pem, serial: serialBytes.toString('hex') };
}

/**
 * Names a certificate by its signed content (SHA-256 of the TBSCertificate): the same for the
 * certificate as issued and as Fabric presents it after normalising its signature.
 */
export function certificateKey(pem: string): string | undefined {
  try {
    const [tbs] = children(one(new X509Certificate(pem).raw));
    return createHash('sha256')
      .update((tbs as Tlv).raw)
      .digest('hex');
  } catch {
    return undefined;
  }
}
