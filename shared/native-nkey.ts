/**
 * nkeys KeyPairs that sign through node:crypto. nkeys.js derives the ed25519 key pair from the
 * seed in pure JavaScript (tweetnacl) on every getPublicKey(), getPrivateKey() and sign(), and
 * encodeUser calls those five or six times: ~20 ms of the head's CPU per actor credential on a
 * 2-core machine, most of what a short job cost the head. Here the pair is derived once by
 * OpenSSL (node:crypto's Ed25519, the same deterministic RFC 8032 signatures) and kept; the
 * seed and key encodings stay nkeys.js's own (its Codec). The first pair a process makes is
 * checked against nkeys.js (public key and a signature, byte for byte); should they ever
 * differ, every pair falls back to nkeys.js as it is. The head mints with these; every client
 * (nats.js connections, raw lanes) answers its server's nonce with them (credsAuthenticator).
 */
import { createPrivateKey, createPublicKey, sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';
import { encode, fromSeed, Prefix, type KeyPair } from '@nats-io/nkeys';
import type { Authenticator } from '@nats-io/transport-node';
import { Codec } from '@nats-io/nkeys/lib/codec.js';

/** PKCS#8 DER header of an Ed25519 private key; the 32-byte seed follows (RFC 8410). */
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

let agrees: boolean | undefined;

interface Derived {
  pub: string;
  secret: Uint8Array;
  priv: KeyObject;
  pubKey: KeyObject;
}

function derive(kp: KeyPair): Derived {
  const { prefix, buf } = Codec.decodeSeed(kp.getSeed());
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, Buffer.from(buf)]), format: 'der', type: 'pkcs8' });
  const pubKey = createPublicKey(priv);
  const raw = Buffer.from(pubKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  // nkeys' private key: the tweetnacl secret key (seed, then public key) with the private prefix
  const secret = Codec.encode(Prefix.Private, new Uint8Array(Buffer.concat([Buffer.from(buf), raw])));
  return { pub: new TextDecoder().decode(Codec.encode(prefix, raw)), secret, priv, pubKey };
}

/** Whether node:crypto gives what nkeys.js gives (checked once per process, on the first pair). */
function nativeAgrees(kp: KeyPair): boolean {
  if (agrees === undefined) {
    try {
      const d = derive(kp);
      const probe = new TextEncoder().encode('flotilla native nkey check');
      agrees =
        d.pub === kp.getPublicKey() &&
        Buffer.from(d.secret).equals(Buffer.from(kp.getPrivateKey())) &&
        Buffer.from(edSign(null, probe, d.priv)).equals(Buffer.from(kp.sign(probe)));
    } catch {
      agrees = false;
    }
  }
  return agrees;
}

/** `kp` (a seed key pair: user, account, operator) with its public key derived once and its signatures from node:crypto. */
export function nativeKeyPair(kp: KeyPair): KeyPair {
  if (!nativeAgrees(kp)) return kp;
  const { pub, secret, priv, pubKey } = derive(kp);
  return {
    getPublicKey: () => pub,
    getPrivateKey: () => secret.slice(),
    getSeed: () => kp.getSeed(),
    sign: (input) => new Uint8Array(edSign(null, input, priv)),
    verify: (input, sig) => edVerify(null, input, pubKey, sig),
    clear: () => kp.clear(),
    seal: (input, recipient, nonce) => kp.seal(input, recipient, nonce),
    open: (message, sender) => kp.open(message, sender),
  };
}

/**
 * nats.js's credsAuthenticator, answering the server's nonce with a native signature: the user
 * JWT, the user's public key and its signature of the nonce (base64, as nats.js sends it). The
 * creds are parsed once, not on every (re)connect.
 */
export function credsAuthenticator(text: string): Authenticator {
  const blocks = [...text.matchAll(/-{3,}[^\n]*-{3,}\s*\n\s*(\S+)\s*\n\s*-{3,}[^\n]*-{3,}/g)].map((m) => m[1]);
  if (blocks.length < 2) throw new Error('unable to parse NATS credentials (a user JWT and an nkey seed)');
  const [jwt, seed] = blocks;
  const kp = nativeKeyPair(fromSeed(new TextEncoder().encode(seed)));
  const nkey = kp.getPublicKey();
  return (nonce?: string) => ({ jwt, nkey, sig: nonce ? encode(kp.sign(new TextEncoder().encode(nonce))) : '' });
}
