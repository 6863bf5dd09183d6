import t from 'tap';
import { randomBytes } from 'node:crypto';
import { createAccount, createOperator, createUser, decode, fromPublic, fromSeed } from '@nats-io/nkeys';
import { decode as decodeJwt } from '@nats-io/jwt';
import { credsAuthenticator, NKEY_KAT, nativeKeyPair } from '../../shared/native-nkey.ts';
import { mintCreds } from '../../head/auth/nats-trust.ts';
import { actorPermissions } from '../../head/auth/nats-permissions.ts';
import { subjects } from '../../shared/subjects.ts';

t.test('the known answer the native check compares with is what nkeys.js derives from its seed', async (t) => {
  const kp = fromSeed(new TextEncoder().encode(NKEY_KAT.seed));
  t.equal(kp.getPublicKey(), NKEY_KAT.publicKey, 'public key');
  t.equal(new TextDecoder().decode(kp.getPrivateKey()), NKEY_KAT.privateKey, 'private key');
  t.equal(Buffer.from(kp.sign(new TextEncoder().encode(NKEY_KAT.probe))).toString('base64'), NKEY_KAT.signature, 'signature of the probe');
  const n = nativeKeyPair(kp);
  t.not(n, kp, 'node:crypto agrees with it: the pair is the native one');
  t.equal(n.getPublicKey(), NKEY_KAT.publicKey);
});

t.test('a native pair gives what nkeys.js gives: public key, private key, signatures, verification', async (t) => {
  for (const make of [createUser, createAccount, createOperator]) {
    const kp = make();
    const n = nativeKeyPair(kp);
    t.equal(n.getPublicKey(), kp.getPublicKey(), `${make.name}: public key`);
    t.same(Buffer.from(n.getPrivateKey()), Buffer.from(kp.getPrivateKey()), `${make.name}: private key`);
    t.same(Buffer.from(n.getSeed()), Buffer.from(kp.getSeed()), `${make.name}: seed`);
    for (const len of [0, 1, 32, 1000]) {
      const data = new Uint8Array(randomBytes(len));
      const sig = n.sign(data);
      t.same(Buffer.from(sig), Buffer.from(kp.sign(data)), `${make.name}: signature of ${len} bytes`);
      t.ok(kp.verify(data, sig) && n.verify(data, sig), `${make.name}: verified both ways`);
      if (len > 0) {
        const bad = data.slice();
        bad[0] ^= 1;
        t.notOk(n.verify(bad, sig), `${make.name}: a changed message does not verify`);
      }
    }
  }
});

t.test('minted creds carry a JWT signed by the account signing key; the authenticator signs the nonce as the user', async (t) => {
  const signer = createAccount();
  const account = createAccount();
  const creds = await mintCreds({ signer, accountPub: account.getPublicKey() }, 'actor-x', actorPermissions(subjects('p'), 'j1', 'a1'));
  const jwt = /-----BEGIN NATS USER JWT-----\n(\S+)\n/.exec(creds)![1];
  const claims = await decodeJwt(jwt); // checks the signature against claims.iss
  t.equal(claims.iss, signer.getPublicKey(), 'issued by the signing key');
  t.equal((claims.nats as { issuer_account?: string }).issuer_account, account.getPublicKey(), 'for the account');
  const auth = credsAuthenticator(creds)('a-server-nonce') as { jwt: string; nkey: string; sig: string };
  t.equal(auth.jwt, jwt, 'the JWT goes in CONNECT');
  t.equal(auth.nkey, claims.sub, 'as the user the JWT names');
  t.ok(
    fromPublic(auth.nkey).verify(new TextEncoder().encode('a-server-nonce'), decode(auth.sig)),
    'the nonce signature verifies with the user key',
  );
  t.throws(() => credsAuthenticator('not creds'), /unable to parse NATS credentials/, 'garbage is refused with a clear error');
});
