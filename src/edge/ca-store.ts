/**
 * The local CA on disk: `ca.crt` is what users install into their trust stores, `ca.key` is the
 * secret that lets countersign impersonate any host to them, so it is readable by the owner only.
 */

import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCertificateAuthority, loadCertificateAuthority } from './x509.js';
import type { CertificateAuthority } from './x509.js';

export const CA_COMMON_NAME = 'countersign local CA';
const CERT_FILE = 'ca.crt';
const KEY_FILE = 'ca.key';

export interface StoredCertificateAuthority {
  ca: CertificateAuthority;
  /** Path of the CA certificate, for telling users what to trust. */
  certPath: string;
  /** True when this call generated the CA. */
  created: boolean;
}

/**
 * Loads the CA from `dataDir`, or generates and saves one when neither file exists. With only
 * one of the two files present it refuses rather than silently replacing a CA that clients may
 * already trust.
 */
export function loadOrCreateCertificateAuthority(dataDir: string): StoredCertificateAuthority {
  const certPath = join(dataDir, CERT_FILE);
  const keyPath = join(dataDir, KEY_FILE);
  const hasCert = existsSync(certPath);
  const hasKey = existsSync(keyPath);

  if (hasCert && hasKey) {
    const ca = loadCertificateAuthority(readFileSync(certPath, 'utf8'), readFileSync(keyPath, 'utf8'));
    return { ca, certPath, created: false };
  }
  if (hasCert !== hasKey) {
    const [missing, present] = hasCert ? [keyPath, certPath] : [certPath, keyPath];
    throw new Error(
      `countersign CA is incomplete: ${missing} is missing but ${present} exists. ` +
        `Restore ${missing}, or remove ${present} to generate a new CA (clients will then need to trust the new ${CERT_FILE}).`,
    );
  }

  // 0700: the directory holds the CA key; mode only applies when mkdir creates it.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const ca = createCertificateAuthority(CA_COMMON_NAME);
  // Key first: if the process dies in between, the error above names the missing certificate.
  // 'wx' fails instead of overwriting if another process created the files meanwhile.
  writeWithMode(keyPath, ca.keyPem, 0o600);
  writeWithMode(certPath, ca.certPem, 0o644);
  return { ca, certPath, created: true };
}

/** The mode given to writeFileSync is filtered by the umask, so set it again explicitly. */
function writeWithMode(path: string, contents: string, mode: number): void {
  writeFileSync(path, contents, { mode, flag: 'wx' });
  chmodSync(path, mode);
}
