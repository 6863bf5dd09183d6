/**
 * The first steps of a raw lane's connection: TCP, the server's INFO line, TLS when the server
 * requires it (or the lane insists on it), and the credential fields of CONNECT. A creds text
 * (user JWT + nkey seed) answers the server's nonce as nats.js's credsAuthenticator does (shared/native-nkey.ts: signed natively)
 * (`jwt`, `nkey`, `sig`), so a lane authenticates as the rank's own identity with the same
 * permissions as its nats.js connection. A server that wants auth from a lane without
 * credentials, or a lane told to use TLS on a server without it, is RawLaneUnsupported; a
 * certificate that does not verify is a plain error (either way the group falls back to
 * nats.js lanes).
 */
import { createConnection, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { credsAuthenticator } from '../../shared/native-nkey.ts';

export class RawLaneUnsupported extends Error {
  override name = 'RawLaneUnsupported';
}

export interface ServerInfo {
  max_payload?: number;
  auth_required?: boolean;
  tls_required?: boolean;
  tls_available?: boolean;
  nonce?: string;
  headers?: boolean;
}

/** How a raw lane proves who it is and checks whom it talks to. */
export interface RawLaneSecurity {
  /** creds text (user JWT + nkey seed) for servers that require auth */
  creds?: string;
  /** TLS: the CA (PEM text or a file path) that signed the server's certificate; set, TLS is required */
  tls?: { ca?: string };
}

/** The CONNECT fields that authenticate, for a server's INFO. */
export function connectAuth(info: ServerInfo, sec: RawLaneSecurity): Record<string, string> {
  if (!info.auth_required) return {};
  if (!sec.creds) throw new RawLaneUnsupported('the server requires auth and the lane has no credentials');
  const auth = credsAuthenticator(sec.creds)(info.nonce) ?? {};
  return Object.fromEntries(Object.entries(auth).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** Reads the first line (INFO {...}) of a fresh connection; bytes after it go back to the stream. */
function readInfo(socket: Socket): Promise<ServerInfo> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (b: Buffer): void => {
      buf = Buffer.concat([buf, b]);
      const nl = buf.indexOf(10);
      if (nl < 0) {
        if (buf.length > 64 * 1024) done(new Error('no INFO line from the server'));
        return;
      }
      socket.off('data', onData);
      socket.pause();
      if (nl + 1 < buf.length) socket.unshift(buf.subarray(nl + 1));
      const line = buf.subarray(0, nl).toString('latin1').trim();
      if (!line.startsWith('INFO ')) {
        done(new Error(`expected INFO from the server, got: ${line.slice(0, 80)}`));
        return;
      }
      try {
        done(undefined, JSON.parse(line.slice(5)) as ServerInfo);
      } catch (e) {
        done(e as Error);
      }
    };
    const onErr = (e: Error): void => done(e);
    const done = (e?: Error, info?: ServerInfo): void => {
      socket.off('data', onData);
      socket.off('error', onErr);
      if (e) reject(e);
      else resolve(info as ServerInfo);
    };
    socket.on('data', onData);
    socket.once('error', onErr);
  });
}

function caText(ca: string): string {
  return ca.includes('-----BEGIN') ? ca : readFileSync(ca, 'utf8');
}

function upgrade(socket: Socket, host: string, ca?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({
      socket,
      ...(isIP(host) ? {} : { servername: host }),
      ...(ca ? { ca: caText(ca) } : {}),
      rejectUnauthorized: true,
    });
    s.once('secureConnect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** A connected socket (TLS when the server wants it) and the server's INFO; the caller sends CONNECT. */
export async function openRawSocket(
  host: string,
  port: number,
  sec: RawLaneSecurity,
  signal: { onSocket(s: Socket): void },
): Promise<{ socket: Socket; info: ServerInfo }> {
  const plain = createConnection({ host, port });
  signal.onSocket(plain);
  plain.setNoDelay(true);
  const info = await readInfo(plain);
  if (info.auth_required && !sec.creds) throw new RawLaneUnsupported('the server requires auth and the lane has no credentials');
  const wantTls = info.tls_required || sec.tls !== undefined;
  if (!wantTls) {
    plain.resume();
    return { socket: plain, info };
  }
  if (!info.tls_required && !info.tls_available) throw new RawLaneUnsupported('TLS was asked for and the server does not offer it');
  // without a CA of its own the lane trusts the system's, as nats.js does
  const socket = await upgrade(plain, host, sec.tls?.ca);
  signal.onSocket(socket);
  socket.setNoDelay(true);
  return { socket, info };
}
