/**
 * The certificates countersign's TLS edge presents: a local CA that clients are told to trust,
 * and short-lived leaf certificates minted per hostname on demand. Built with node:crypto and
 * the small DER encoder next door, so there is no OpenSSL CLI or X.509 library to install.
 *
 * Both kinds carry the extensions that strict verifiers insist on (OpenSSL's -x509_strict,
 * Python 3.13+'s default VERIFY_X509_STRICT): basicConstraints and keyUsage, a
 * subjectKeyIdentifier on every certificate and an authorityKeyIdentifier on every one the CA
 * signs. Keys are ECDSA P-256 so minting a leaf costs about a millisecond, not an RSA keygen.
 */

import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import * as der from './der.js';

export interface CertificateAuthority {
  /** The CA's private key; signs leaves. */
  key: KeyObject;
  certPem: string;
  keyPem: string;
  certDer: Buffer;
  /** Written into each leaf's authorityKeyIdentifier so verifiers can find the issuer (RFC 5280 4.2.1.1). */
  subjectKeyId: Buffer;
}

export interface LeafCertificate {
  certPem: string;
  keyPem: string;
  notAfter: Date;
}

const OID = {
  commonName: '2.5.4.3',
  organizationName: '2.5.4.10',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

/** KeyUsage bit numbers (RFC 5280 4.2.1.3). */
const KEY_USAGE = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
/** Start validity an hour early so a client whose clock runs a little behind still accepts the certificate. */
const BACKDATE_MS = HOUR_MS;
/** Far below the 397-day ceiling clients enforce on publicly trusted leaves; the cache renews long before. */
const LEAF_LIFETIME_MS = 30 * DAY_MS;
const CA_LIFETIME_YEARS = 10;
/** ub-common-name (RFC 5280 Appendix A.1). */
const MAX_COMMON_NAME = 64;
const ORGANIZATION = 'countersign';

/**
 * ecdsa-with-SHA256 with the parameters field absent, not NULL (RFC 5758 3.2). Used both inside
 * the TBSCertificate and as Certificate.signatureAlgorithm, which must match (RFC 5280 4.1.1.2).
 */
const ECDSA_WITH_SHA256 = der.sequence(der.oid(OID.ecdsaWithSha256));

/** A self-signed CA: CN=commonName, O=countersign, valid from an hour ago for ten years. */
export function createCertificateAuthority(commonName: string, now: Date = new Date()): CertificateAuthority {
  checkCommonName(commonName);
  const { privateKey, publicKey } = newKeyPair();
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const keyId = subjectKeyIdentifier(spki);
  const notBefore = new Date(wholeSeconds(now) - BACKDATE_MS);
  const notAfter = new Date(wholeSeconds(now));
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_LIFETIME_YEARS);
  const name = distinguishedName([
    [OID.organizationName, ORGANIZATION],
    [OID.commonName, commonName],
  ]);
  const certDer = buildCertificate({
    issuer: name,
    subject: name,
    notBefore,
    notAfter,
    spki,
    signingKey: privateKey,
    extensions: [
      // cA TRUE with pathLenConstraint 0: this CA signs leaves only, never another CA (4.2.1.9).
      extension(OID.basicConstraints, true, der.sequence(der.boolean(true), der.integer(Buffer.from([0])))),
      extension(OID.keyUsage, true, der.namedBitString([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign])),
      extension(OID.subjectKeyIdentifier, false, der.octetString(keyId)),
      extension(OID.authorityKeyIdentifier, false, authorityKeyIdentifier(keyId)),
    ],
  });
  return {
    key: privateKey,
    certPem: toPem('CERTIFICATE', certDer),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certDer,
    subjectKeyId: keyId,
  };
}

/** A CA from its PEM files, checked to be a CA certificate with an EC key that matches it. */
export function loadCertificateAuthority(certPem: string, keyPem: string): CertificateAuthority {
  const cert = new X509Certificate(certPem);
  if (!cert.ca) throw new Error('the CA certificate is not a CA (basicConstraints cA is not TRUE)');
  const key = createPrivateKey(keyPem);
  // Leaves are signed ecdsa-with-SHA256; an RSA CA key would need a different signature algorithm.
  if (key.asymmetricKeyType !== 'ec') throw new Error(`the CA key must be an EC key, not ${key.asymmetricKeyType ?? 'unknown'}`);
  if (!cert.checkPrivateKey(key)) throw new Error('the CA key does not belong to the CA certificate');
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  // Leaves name their issuer by its key identifier (authorityKeyIdentifier); a CA made elsewhere
  // (Go, cert-manager) may derive its own differently (RFC 7093), so use the one it carries.
  return { key, certPem, keyPem, certDer: cert.raw, subjectKeyId: subjectKeyIdOf(cert.raw) ?? subjectKeyIdentifier(spki) };
}

/**
 * A fresh key pair and certificate for one hostname (a DNS name or an IP literal, as taken from
 * a CONNECT line or SNI), valid from an hour ago for 30 days. Throws on anything else, so no
 * arbitrary bytes from the client reach the certificate.
 */
export function issueLeafCertificate(ca: CertificateAuthority, hostname: string, now: Date = new Date()): LeafCertificate {
  const target = parseHostname(hostname);
  const { privateKey, publicKey } = newKeyPair();
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const notBefore = new Date(wholeSeconds(now) - BACKDATE_MS);
  const notAfter = new Date(wholeSeconds(now) + LEAF_LIFETIME_MS);
  const certDer = buildCertificate({
    // The issuer must equal the CA's subject; copy its bytes instead of rebuilding them.
    issuer: subjectNameOf(ca.certDer),
    // Clients match the SAN (RFC 6125 6.4.4); the CN is informational and bounded at 64 characters.
    subject: distinguishedName([[OID.commonName, target.text.slice(0, MAX_COMMON_NAME)]]),
    notBefore,
    notAfter,
    spki,
    signingKey: ca.key,
    extensions: [
      // cA defaults to FALSE and DER omits defaults, so CA:FALSE is an empty SEQUENCE.
      extension(OID.basicConstraints, true, der.sequence()),
      extension(OID.keyUsage, true, der.namedBitString([KEY_USAGE.digitalSignature])),
      extension(OID.extKeyUsage, false, der.sequence(der.oid(OID.serverAuth))),
      extension(OID.subjectAltName, false, der.sequence(generalName(target))),
      extension(OID.subjectKeyIdentifier, false, der.octetString(subjectKeyIdentifier(spki))),
      extension(OID.authorityKeyIdentifier, false, authorityKeyIdentifier(ca.subjectKeyId)),
    ],
  });
  return {
    certPem: toPem('CERTIFICATE', certDer),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    notAfter,
  };
}

interface CertificateFields {
  issuer: Buffer;
  subject: Buffer;
  notBefore: Date;
  notAfter: Date;
  /** SubjectPublicKeyInfo DER, exactly as node exports it. */
  spki: Buffer;
  extensions: Buffer[];
  signingKey: KeyObject;
}

/** Certificate and TBSCertificate as laid out in RFC 5280 4.1. */
function buildCertificate(fields: CertificateFields): Buffer {
  const tbs = der.sequence(
    der.explicit(0, der.integer(Buffer.from([2]))), // version v3, needed for extensions (4.1.2.1)
    der.integer(randomSerial()),
    ECDSA_WITH_SHA256,
    fields.issuer,
    der.sequence(der.time(fields.notBefore), der.time(fields.notAfter)),
    fields.subject,
    fields.spki,
    der.explicit(3, der.sequence(...fields.extensions)),
  );
  // For EC keys node produces the DER Ecdsa-Sig-Value (SEQUENCE { r, s }) that X.509 carries (RFC 5758 3.2).
  const signature = sign('sha256', tbs, fields.signingKey);
  return der.sequence(tbs, ECDSA_WITH_SHA256, der.bitString(signature));
}

function newKeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

/**
 * 16 random bytes with the top bit cleared (so the INTEGER stays positive without a pad byte)
 * and the next bit set (so it is never zero and always 16 octets): well within RFC 5280
 * 4.1.2.2's 20-octet limit, with over 64 bits of entropy as the CA/Browser Forum asks.
 */
function randomSerial(): Buffer {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  return serial;
}

/** Name: a SEQUENCE of single-attribute RDNs, most significant first (RFC 5280 4.1.2.4). */
function distinguishedName(attributes: ReadonlyArray<readonly [string, string]>): Buffer {
  return der.sequence(
    ...attributes.map(([type, value]) => der.set(der.sequence(der.oid(type), der.utf8String(value)))),
  );
}

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } (4.1). */
function extension(id: string, critical: boolean, value: Buffer): Buffer {
  // DER leaves out a BOOLEAN that equals its DEFAULT, so non-critical extensions carry no flag.
  return der.sequence(der.oid(id), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
}

/** AuthorityKeyIdentifier with only keyIdentifier [0] IMPLICIT KeyIdentifier (4.2.1.1). */
function authorityKeyIdentifier(keyId: Buffer): Buffer {
  return der.sequence(der.implicit(0, keyId));
}

/**
 * Key identifier method (1) of RFC 5280 4.2.1.2: SHA-1 of the subjectPublicKey BIT STRING's
 * value, without its tag, length or unused-bits octet.
 */
function subjectKeyIdentifier(spki: Buffer): Buffer {
  const [, publicKey] = der.readChildren(der.readElement(spki).contents);
  if (publicKey?.tag !== der.TAG.BIT_STRING) throw new Error('SubjectPublicKeyInfo has no subjectPublicKey');
  return createHash('sha1').update(publicKey.contents.subarray(1)).digest();
}

/** The subject Name bytes of a DER certificate. */
/** The subjectKeyIdentifier extension's value (RFC 5280 4.2.1.2), if the certificate has one. */
function subjectKeyIdOf(certDer: Buffer): Buffer | undefined {
  const [tbs] = der.readChildren(der.readElement(certDer).contents);
  const extensions = der.readChildren(tbs?.contents ?? Buffer.alloc(0)).find((field) => field.tag === 0xa3);
  const list = extensions === undefined ? undefined : der.readChildren(extensions.contents)[0];
  const skiOid = der.oid(OID.subjectKeyIdentifier);
  for (const ext of list === undefined ? [] : der.readChildren(list.contents)) {
    const parts = der.readChildren(ext.contents);
    const value = parts[parts.length - 1];
    // Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING (of a KeyIdentifier OCTET STRING) }
    if (parts[0]?.encoded.equals(skiOid) === true && value !== undefined) return der.readElement(value.contents).contents;
  }
  return undefined;
}

function subjectNameOf(certDer: Buffer): Buffer {
  const [tbs] = der.readChildren(der.readElement(certDer).contents);
  if (tbs === undefined) throw new Error('certificate has no TBSCertificate');
  const fields = der.readChildren(tbs.contents);
  // version [0] is optional; after it: serialNumber, signature, issuer, validity, subject.
  const first = fields[0]?.tag === 0xa0 ? 1 : 0;
  const subject = fields[first + 4];
  if (subject?.tag !== der.TAG.SEQUENCE) throw new Error('certificate has no subject Name');
  return subject.encoded;
}

type Target = { kind: 'dns'; text: string } | { kind: 'ip'; text: string; address: Buffer };

/** GeneralName: dNSName [2] IA5String or iPAddress [7] OCTET STRING (RFC 5280 4.2.1.6). */
function generalName(target: Target): Buffer {
  return target.kind === 'dns' ? der.implicit(2, Buffer.from(target.text, 'ascii')) : der.implicit(7, target.address);
}

/** A DNS label in the preferred name syntax (RFC 1034 3.5, RFC 1123 2.1), which dNSName requires. */
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Accepts a DNS name (lower-cased, no trailing dot, no wildcard) or an IPv4/IPv6 literal without
 * brackets or zone; anything else is an error. The input comes from a client's CONNECT line or
 * SNI, so this is what keeps arbitrary bytes out of the certificate.
 */
function parseHostname(hostname: string): Target {
  const family = isIP(hostname);
  if (family === 4) return { kind: 'ip', text: hostname, address: Buffer.from(hostname.split('.').map(Number)) };
  if (family === 6) {
    if (hostname.includes('%')) throw new Error(`invalid hostname "${printable(hostname)}": IPv6 zone identifiers are not allowed`);
    return { kind: 'ip', text: hostname.toLowerCase(), address: ipv6Bytes(hostname) };
  }
  const name = hostname.toLowerCase();
  const labels = name.split('.');
  const valid =
    name.length > 0 &&
    name.length <= 253 &&
    labels.every((label) => LABEL.test(label)) &&
    // An all-numeric last label would look like a mangled IPv4 address (RFC 1123 2.1).
    !/^[0-9]+$/.test(labels[labels.length - 1] ?? '');
  if (!valid) throw new Error(`invalid hostname "${printable(hostname)}": expected a DNS name or an IP address`);
  return { kind: 'dns', text: name };
}

/** 16 bytes of an IPv6 literal already accepted by isIP, including "::" and a dotted-quad tail. */
function ipv6Bytes(text: string): Buffer {
  const halves = text.split('::');
  if (halves.length > 2) throw new Error(`invalid IPv6 address "${text}"`);
  const head = groups(halves[0] ?? '');
  const tail = halves.length === 2 ? groups(halves[1] ?? '') : [];
  const zeros = 8 - head.length - tail.length;
  if (zeros < 0 || (halves.length === 1 && zeros !== 0)) throw new Error(`invalid IPv6 address "${text}"`);
  const words = [...head, ...new Array<number>(zeros).fill(0), ...tail];
  const bytes = Buffer.alloc(16);
  words.forEach((word, i) => bytes.writeUInt16BE(word, i * 2));
  return bytes;
}

function groups(part: string): number[] {
  if (part === '') return [];
  return part.split(':').flatMap((group) => {
    if (!group.includes('.')) return [parseInt(group, 16)];
    const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
    return [a * 256 + b, c * 256 + d];
  });
}

function checkCommonName(commonName: string): void {
  if (commonName.length === 0 || commonName.length > MAX_COMMON_NAME || /\p{Cc}/u.test(commonName)) {
    throw new Error(`invalid CA common name "${printable(commonName)}": 1 to ${MAX_COMMON_NAME} characters, no control characters`);
  }
}

/** Error messages quote client input; escape it so a CR/LF cannot forge log lines. */
function printable(text: string): string {
  return JSON.stringify(text.slice(0, 300)).slice(1, -1);
}

/** X.509 times have whole seconds; truncating here keeps the returned notAfter equal to the encoded one. */
function wholeSeconds(date: Date): number {
  const ms = date.getTime();
  if (Number.isNaN(ms)) throw new RangeError('invalid date');
  return Math.floor(ms / 1000) * 1000;
}

function toPem(label: string, body: Buffer): string {
  const lines = body.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
