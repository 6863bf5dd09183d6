/**
 * nkeys KeyPairs that sign through node:crypto. nkeys.js derives the ed25519 key pair from the
 * seed in pure JavaScript (tweetnacl) on every getPublicKey(), getPrivateKey() and sign(), and
 * encodeUser calls those five or six times: ~20 ms of the head's CPU per actor credential on a
 * 2-core machine, most of what a short job cost the head. Here the pair is derived once by
 * OpenSSL (node:crypto's Ed25519, the same deterministic RFC 8032 signatures) and kept; the
 * seed and key encodings stay nkeys.js's own (its Codec). Once per process node:crypto is
 * checked against a known answer of nkeys.js (NKEY_KAT: the public key, private key and a
 * signature it derives from a fixed throwaway seed; a test keeps the vector equal to nkeys.js's
 * output); should they ever differ, every pair falls back to nkeys.js as it is. The check used
 * to run nkeys.js itself on the first pair: ~150 ms of pure-JS curve arithmetic in every
 * process that connects. The head mints with these; every client (nats.js connections, raw
 * lanes) answers its server's nonce with them (credsAuthenticator).
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

/**
 * A known answer of nkeys.js: what it derives from a fixed seed (a throwaway test vector that
 * authorises nothing) and its signature of PROBE. test/shared/native-nkey.test.ts checks nkeys.js
 * still gives exactly these.
 */
export const NKEY_KAT = {
  seed: 'SUAH3UQZRPUF5AQQ2WKZFUE36AFPNVRVGAPGXZLFT5D7JQBTOMO4WF4SRM',
  publicKey: 'UAY5RCQKQ2ZBC44OQTSVVKAMCRPL2UHNQ4WMQ4JV5BEDYY4SOH6MEVBZ',
  privateKey: 'PB65EGML5BPIEEGVSWJNBG7QBL3NMNJQDZV6KZM7I72MAM3TDXFROMOYRIFINMQROOHIJZK2VAGBIXV5KDWYOLGIOE26QSB4MOJHD7GC22MA',
  probe: 'flotilla native nkey check',
  signature: 'Mw9LU0s30rMiipYN13CiHAYAxl9aruFb80LGAC8j3H5/kUusAWxrk5Zy1YuRr4hF7XsT1u1b/65krShKqfLGCw==',
} as const;

/** Whether node:crypto gives nkeys.js's known answer (checked once per process). */
function nativeAgrees(): boolean {
  if (agrees === undefined) {
    try {
      const d = derive(fromSeed(new TextEncoder().encode(NKEY_KAT.seed)));
      const sig = Buffer.from(edSign(null, Buffer.from(NKEY_KAT.probe), d.priv)).toString('base64');
      agrees = d.pub === NKEY_KAT.publicKey && new TextDecoder().decode(d.secret) === NKEY_KAT.privateKey && sig === NKEY_KAT.signature;
    } catch {
      agrees = false;
    }
  }
  return agrees;
}

/** `kp` (a seed key pair: user, account, operator) with its public key derived once and its signatures from node:crypto. */
export function nativeKeyPair(kp: KeyPair): KeyPair {
  if (!nativeAgrees()) return kp;
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
