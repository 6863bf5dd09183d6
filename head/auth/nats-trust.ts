/**
 * The NATS trust chain of one Flotilla cluster (decentralized JWT auth, no server reloads):
 * an operator, one application account with JetStream enabled and a signing key, and a system
 * account. nats-server learns the operator and account JWTs from its config (resolver MEMORY +
 * resolver_preload); the head holds the account signing seed and mints a user JWT per identity
 * (head, worker node, actor) with that identity's subject permissions (nats-permissions.ts).
 * Minting is local and the server needs no change when a worker or actor is added.
 *
 * Files of a trust dir (mode 0600): operator.jwt, account.jwt, sys.jwt, account.pub, sys.pub,
 * signing.nk (the account signing seed: the cluster's secret), head.creds, auth.conf
 * (the server snippet that deploy/nats configs `include`), revoker.json (what the head needs to
 * push user revocations to the servers: an operator signing seed, a system-account user, the
 * account JWT it re-signs; see revocations.ts), leaf-sys.creds (a system-account user for the leaf
 * servers' second remote: see LEAF_SYS_PERMISSIONS). Trust dirs made before revoker.json existed
 * keep working but cannot revoke (make a new one); made before leaf-sys.creds, their leaf
 * servers cannot use the shipped leaf config (make a new one).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createAccount,
  createOperator,
  createUser,
  encodeAccount,
  encodeOperator,
  encodeUser,
  fmtCreds,
  fromPublic,
  fromSeed,
  type KeyPair,
} from '@nats-io/jwt';
import { leafPermissions, type Permissions } from './nats-permissions.ts';
import type { Subjects } from '../../shared/subjects.ts';
import { nativeKeyPair } from '../../shared/native-nkey.ts';

/** revoker.json: re-signing the account JWT with revocations and pushing it through the system account. */
export interface RevokerMaterial {
  /** an operator signing key (listed in the operator JWT): it can re-sign the account JWT */
  operator_signing_seed: string;
  /** creds of a system-account user (account JWT updates go to `$SYS.REQ.ACCOUNT.<id>.CLAIMS.UPDATE`) */
  sys_creds: string;
  /** the account JWT as the servers preload it (its claims are kept, revocations added) */
  account_jwt: string;
}

export interface NatsTrust {
  operatorJwt: string;
  accountJwt: string;
  accountPub: string;
  sysJwt: string;
  sysPub: string;
  /** the account signing key (the seed is the cluster's secret) */
  signer: KeyPair;
  /** absent in trust dirs made before revocation existed */
  revoker?: RevokerMaterial;
  /** creds of the leaf servers' system-account user (only when the trust is created: the system account's key is not kept) */
  leafSysCreds?: string;
}

/**
 * The system-account user of a worker host's leaf server (its second remote, leaf-sys.creds). A
 * leaf connection's publish permissions are what it may forward to the cluster, its subscribe
 * permissions what the cluster sends it: the leaf's client connect/disconnect advisories go up
 * (the head's fast death detection sees agents behind a leaf, supervisor/disconnects.ts), account
 * JWT updates come down (the head's revocations reach the leaf, revocations.ts), nothing else.
 */
export const LEAF_SYS_PERMISSIONS = {
  pub: { allow: ['$SYS.ACCOUNT.*.CONNECT', '$SYS.ACCOUNT.*.DISCONNECT'] },
  sub: { allow: ['$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE'] },
} as const;

const FILES = {
  operator: 'operator.jwt',
  account: 'account.jwt',
  sys: 'sys.jwt',
  accountPub: 'account.pub',
  sysPub: 'sys.pub',
  signing: 'signing.nk',
  head: 'head.creds',
  conf: 'auth.conf',
  revoker: 'revoker.json',
  leafSys: 'leaf-sys.creds',
} as const;

const UNLIMITED = { subs: -1, conn: -1, leaf: -1, imports: -1, exports: -1, data: -1, payload: -1, wildcards: true } as const;

/** Creates a fresh trust chain in memory. */
export async function createTrust(name = 'flotilla'): Promise<NatsTrust> {
  const op = createOperator();
  const opSigner = createOperator();
  const sys = createAccount();
  const acc = createAccount();
  const signer = createAccount();
  const sysPub = sys.getPublicKey();
  const operatorJwt = await encodeOperator(name, op, { system_account: sysPub, signing_keys: [opSigner.getPublicKey()] });
  // the system account needs connection limits for its one user (the revoker) to connect
  const sysJwt = await encodeAccount('SYS', sys, { limits: { ...UNLIMITED } }, { signer: op });
  const accountJwt = await encodeAccount(
    name,
    acc,
    {
      signing_keys: [signer.getPublicKey()],
      limits: { ...UNLIMITED, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 },
    },
    { signer: op },
  );
  const sysUser = createUser();
  // it may only send account JWT updates (revocations.ts), read their answers, and follow client
  // disconnect advisories (the head's death detection, supervisor/disconnects.ts)
  const sysUserJwt = await encodeUser('revoker', sysUser, sys, {
    pub: { allow: ['$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE'] },
    sub: { allow: ['_INBOX.>', '$SYS.ACCOUNT.*.DISCONNECT'] },
  });
  const revoker: RevokerMaterial = {
    operator_signing_seed: new TextDecoder().decode(opSigner.getSeed()),
    sys_creds: new TextDecoder().decode(fmtCreds(sysUserJwt, sysUser)),
    account_jwt: accountJwt,
  };
  const leafSys = createUser();
  const leafSysJwt = await encodeUser('leaf-sys', leafSys, sys, {
    pub: { allow: [...LEAF_SYS_PERMISSIONS.pub.allow] },
    sub: { allow: [...LEAF_SYS_PERMISSIONS.sub.allow] },
  });
  const leafSysCreds = new TextDecoder().decode(fmtCreds(leafSysJwt, leafSys));
  return { operatorJwt, accountJwt, accountPub: acc.getPublicKey(), sysJwt, sysPub, signer, revoker, leafSysCreds };
}

/**
 * The server config lines that trust this chain: operator mode with the account and system
 * account preloaded. With `resolverDir` the resolver is nats-server's `full` (directory) resolver:
 * account JWT updates (the revocations the head pushes, revocations.ts) are kept on disk there,
 * so a server that restarts while the head is away still refuses revoked users, and servers of a
 * cluster exchange the newest JWT among themselves; the preload never replaces a newer JWT in the
 * directory. Without it (`auth.conf` of `flotilla nats-trust`, which several servers share) the
 * memory resolver; each shipped server config then sets its own `resolver` with its directory.
 */
export function serverAuthConfig(t: NatsTrust, resolverDir?: string): string {
  return [
    `operator: ${t.operatorJwt}`,
    `system_account: ${t.sysPub}`,
    resolverDir ? fullResolver(resolverDir) : 'resolver: MEMORY',
    'resolver_preload: {',
    `  ${t.accountPub}: ${t.accountJwt}`,
    `  ${t.sysPub}: ${t.sysJwt}`,
    '}',
  ].join('\n');
}

/** A `full` resolver kept in `dir` (account JWTs never deleted; a random peer compared every 10 s, so a server that was down converges within about that). */
export function fullResolver(dir: string): string {
  return `resolver: { type: full, dir: "${dir}", allow_delete: false, interval: "10s" }`;
}

/** A creds file (user JWT + seed) for a new user (or `user`) with these permissions, signed by the account signing key. */
export async function mintCreds(
  t: Minter,
  name: string,
  perms: Permissions,
  expiresInS?: number,
  user: KeyPair = nativeKeyPair(createUser()),
): Promise<string> {
  const jwt = await encodeUser(
    name,
    user,
    signerOf(t),
    { issuer_account: t.accountPub, ...perms },
    expiresInS ? { exp: Math.floor(Date.now() / 1000) + expiresInS } : {},
  );
  return new TextDecoder().decode(fmtCreds(jwt, user));
}

/** A user JWT for a key the user generated itself (the seed never leaves the user). */
export async function mintJwt(t: Minter, name: string, publicKey: string, perms: Permissions): Promise<string> {
  return encodeUser(name, fromPublic(publicKey), signerOf(t), { issuer_account: t.accountPub, ...perms });
}

/** The minter's signing key, derived once (native-nkey.ts): every actor credential is signed with it. */
const signers = new WeakMap<KeyPair, KeyPair>();
function signerOf(t: Minter): KeyPair {
  let s = signers.get(t.signer);
  if (!s) {
    s = nativeKeyPair(t.signer);
    signers.set(t.signer, s);
  }
  return s;
}

function writeSecret(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/**
 * Writes a trust dir (including head.creds with every permission and auth.conf), or loads the one
 * already there: `flotilla up` keeps its cluster identity across restarts.
 */
export async function ensureTrustDir(dir: string, name = 'flotilla'): Promise<NatsTrust> {
  if (existsSync(join(dir, FILES.signing))) return loadTrustDir(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const t = await createTrust(name);
  writeSecret(join(dir, FILES.operator), t.operatorJwt);
  writeSecret(join(dir, FILES.account), t.accountJwt);
  writeSecret(join(dir, FILES.sys), t.sysJwt);
  writeSecret(join(dir, FILES.accountPub), t.accountPub);
  writeSecret(join(dir, FILES.sysPub), t.sysPub);
  writeSecret(join(dir, FILES.signing), new TextDecoder().decode(t.signer.getSeed()));
  writeSecret(join(dir, FILES.head), await mintCreds(t, 'head', {}));
  writeSecret(join(dir, FILES.conf), `${serverAuthConfig(t)}\n`);
  if (t.revoker) writeSecret(join(dir, FILES.revoker), `${JSON.stringify(t.revoker, null, 2)}\n`);
  if (t.leafSysCreds) writeSecret(join(dir, FILES.leafSys), t.leafSysCreds);
  return t;
}

export function loadTrustDir(dir: string): NatsTrust {
  const read = (f: string) => readFileSync(join(dir, f), 'utf8').trim();
  const revoker = existsSync(join(dir, FILES.revoker)) ? (JSON.parse(read(FILES.revoker)) as RevokerMaterial) : undefined;
  return {
    operatorJwt: read(FILES.operator),
    accountJwt: read(FILES.account),
    sysJwt: read(FILES.sys),
    accountPub: read(FILES.accountPub),
    sysPub: read(FILES.sysPub),
    signer: fromSeed(new TextEncoder().encode(read(FILES.signing))),
    ...(revoker ? { revoker } : {}),
  };
}

/**
 * The files every worker host's leaf server reads (deploy/nats/leaf/host-leaf.conf), next to the
 * trust dir's auth.conf: `leaf-account.conf` and `leaf-sys-account.conf` (`account: <key>`: in
 * operator mode a leaf remote names the local account whose clients it carries: the
 * application account, and the system account for the remote of leaf-sys.creds, which
 * ensureTrustDir wrote). Each host's own `leaf.creds` comes from mintLeafCreds (`flotilla
 * leaf-creds`). `missing` names leaf-sys.creds when the trust dir predates it.
 */
export async function ensureLeafFiles(dir: string, t: Minter & Pick<NatsTrust, 'sysPub'>): Promise<{ missing: string[] }> {
  writeSecret(join(dir, 'leaf-account.conf'), `account: ${t.accountPub}\n`);
  writeSecret(join(dir, 'leaf-sys-account.conf'), `account: ${t.sysPub}\n`);
  return { missing: existsSync(join(dir, FILES.leafSys)) ? [] : [FILES.leafSys] };
}

/** A worker host's `leaf.creds`: its leaf server's user in the cluster, bound to the prefix of `s` and the host's node ids (leafPermissions). */
export function mintLeafCreds(t: Minter, s: Subjects, nodes: readonly string[]): Promise<string> {
  return mintCreds(t, `leaf:${nodes.join(',')}`, leafPermissions(s, nodes));
}

/** Paths inside a trust dir. */
export function trustPaths(dir: string): { headCreds: string; signingKey: string; authConf: string; revoker: string } {
  return {
    headCreds: join(dir, FILES.head),
    signingKey: join(dir, FILES.signing),
    authConf: join(dir, FILES.conf),
    revoker: join(dir, FILES.revoker),
  };
}

/** What minting needs: the account signing key and the account it signs for. */
export type Minter = Pick<NatsTrust, 'signer' | 'accountPub'>;

/** The head's minter, from the signing seed and the account named in the head's own creds. */
export function minterFromSeed(seed: string, accountPub: string): Minter {
  return { signer: fromSeed(new TextEncoder().encode(seed.trim())), accountPub };
}
