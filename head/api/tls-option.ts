/** The REST app's HTTPS option, read from the certificate and key files. */
import { readFileSync } from 'node:fs';
import { FlotillaError } from '../../shared/errors.ts';

/** The HTTPS option from two PEM files; both or neither. */
export function tlsOption(certFile?: string, keyFile?: string): { cert: string; key: string } | undefined {
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) throw new FlotillaError('FLO_CONFIG', 'HTTPS needs both --tls-cert and --tls-key');
  try {
    return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  } catch (e) {
    throw new FlotillaError('FLO_CONFIG', `cannot read the TLS certificate or key: ${(e as Error).message}`);
  }
}
