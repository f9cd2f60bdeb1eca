// The PEM an endpoint's client certificate and server CA arrive in, checked before they are
// stored: a value the TLS stack would refuse at connect time would fail every delivery instead.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';

/** PEM text that cannot serve as what it was given for; the message names why (never the key). */
export class PemError extends Error {}

export interface ClientIdentity {
  /** The private key, PEM. */
  key: string;
  /** The certificate, then any intermediates, PEM. */
  cert: string;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g;
const KEY_LABELS = new Set(['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY']);

function blocks(pem: string): { label: string; text: string }[] {
  return [...pem.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1]!, text: m[0] }));
}

function certificate(text: string, which: string): X509Certificate {
  try {
    return new X509Certificate(text);
  } catch {
    throw new PemError(`${which} is not a valid X.509 certificate`);
  }
}

/**
 * The key and certificates of `identity`, a PEM private key and X.509 certificate (Svix's
 * EndpointMtlsConfigIn.identity), in either order, intermediates after the certificate.
 * Refuses an encrypted key (there is nowhere to keep its passphrase) and a certificate that
 * does not belong to the key.
 */
export function parseClientIdentity(identity: string): ClientIdentity {
  const all = blocks(identity);
  const keys = all.filter((b) => KEY_LABELS.has(b.label));
  const certs = all.filter((b) => b.label === 'CERTIFICATE');
  if (all.some((b) => b.label === 'ENCRYPTED PRIVATE KEY')) throw new PemError('the private key is encrypted: give it unencrypted (it is stored encrypted when encryption at rest is on)');
  if (keys.length !== 1) throw new PemError(`must hold exactly one PEM private key (-----BEGIN PRIVATE KEY-----), not ${keys.length}`);
  if (certs.length === 0) throw new PemError('must hold the PEM certificate (-----BEGIN CERTIFICATE-----) that goes with the private key');
  let key: KeyObject;
  try {
    key = createPrivateKey(keys[0]!.text);
  } catch {
    throw new PemError('the private key cannot be read');
  }
  const own = certificate(certs[0]!.text, 'the first certificate');
  certs.slice(1).forEach((c, i) => certificate(c.text, `certificate ${i + 2}`));
  if (!own.checkPrivateKey(key)) throw new PemError('the first certificate does not belong to the private key');
  return { key: keys[0]!.text, cert: certs.map((c) => c.text).join('\n') };
}

/** Checks a PEM bundle of CA certificates: at least one, each valid, and nothing else (no key). */
export function checkCaBundle(pem: string): void {
  const all = blocks(pem);
  if (all.length === 0) throw new PemError('must hold at least one PEM certificate (-----BEGIN CERTIFICATE-----)');
  const other = all.find((b) => b.label !== 'CERTIFICATE');
  if (other !== undefined) throw new PemError(`holds a "${other.label}" block: only CA certificates belong here`);
  all.forEach((b, i) => certificate(b.text, `certificate ${i + 1}`));
}
