/**
 * The `sync` setting of a job: defaults to allreduce, every field bounded, a bad one refused with
 * 400 FLO_VALIDATION naming it (through the head's REST route), the older `allreduce.fp16` still
 * meaning fp16 on the wire, and `flotilla train`'s flags checked by the same schema.
 */
import t from 'tap';
import { headFixture } from '../head/helpers/head.ts';
import { JobSpec, effectiveSync } from '../../shared/schemas/index.ts';

t.test('defaults and the allreduce.fp16 compatibility', async (t) => {
  const j = JobSpec.parse({ trainer: { kind: 'logreg' } });
  t.same(j.sync, {
    mode: 'allreduce',
    every: 16,
    compress: 'none',
    outer_lr: 0.7,
    outer_momentum: 0.9,
    fragments: 4,
    overlap: 1,
    error_feedback: true,
  });
  t.equal(effectiveSync(j).compress, 'none');
  const old = JobSpec.parse({ trainer: { kind: 'logreg' }, allreduce: { fp16: true } });
  t.equal(effectiveSync(old).compress, 'fp16', 'allreduce.fp16: true means compress fp16');
  const both = JobSpec.parse({ trainer: { kind: 'logreg' }, allreduce: { fp16: true }, sync: { compress: 'int8' } });
  t.equal(effectiveSync(both).compress, 'int8', 'an explicit sync.compress wins');
  const d = JobSpec.parse({ trainer: { kind: 'logreg' }, sync: { mode: 'diloco', every: 50 } });
  t.same([d.sync.mode, d.sync.every, d.sync.outer_lr, d.sync.outer_momentum], ['diloco', 50, 0.7, 0.9]);
});

t.test('bad sync fields: 400 naming the field', async (t) => {
  const { head } = await headFixture(t);
  const post = (sync: unknown) =>
    head.app.inject({ method: 'POST', url: '/v1/jobs', payload: { trainer: { kind: 'logreg' }, sync } as object });
  const cases: Array<[string, unknown, string]> = [
    ['unknown mode', { mode: 'gossip' }, 'body.sync.mode'],
    ['every 0', { mode: 'diloco', every: 0 }, 'body.sync.every'],
    ['every too large', { every: 1e9 }, 'body.sync.every'],
    ['unknown compression', { compress: 'int4' }, 'body.sync.compress'],
    ['momentum 1', { outer_momentum: 1 }, 'body.sync.outer_momentum'],
    ['outer lr 0', { outer_lr: 0 }, 'body.sync.outer_lr'],
    ['more fragments than steps', { mode: 'streaming', every: 2, fragments: 4 }, 'body.sync.fragments'],
    ['overlap as long as the interval', { mode: 'streaming', every: 4, fragments: 2, overlap: 4 }, 'body.sync.overlap'],
    ['unknown key', { mode: 'diloco', lr: 1 }, 'body.sync'],
  ];
  for (const [what, sync, field] of cases) {
    const r = await post(sync);
    t.equal(r.statusCode, 400, `${what}: 400`);
    t.equal(r.json().error.code, 'FLO_VALIDATION', `${what}: code`);
    t.match(r.json().error.message, field, `${what}: names ${field}`);
  }
  const ok = await post({ mode: 'streaming', every: 8, fragments: 4, overlap: 2, compress: 'int8' });
  t.equal(ok.statusCode, 201, 'a good streaming setting is taken');
  t.same(ok.json().spec.sync.mode, 'streaming');
});

t.test('flotilla train --sync flags go through the same schema', async (t) => {
  const { run } = await import('../../bin/cli/train.ts');
  const errs: string[] = [];
  const orig = console.error;
  console.error = (m: string) => {
    errs.push(String(m));
  };
  try {
    t.equal(await run(['--data', 'synthetic', '--sync', 'diloco', '--outer-momentum', '1.5']), 2, 'exit 2');
  } finally {
    console.error = orig;
  }
  t.match(errs.join('\n'), /--outer-momentum: /, 'the error names the flag');
});

t.test("docs/sync.md shows the schema's defaults and the int8 chunk", async (t) => {
  const { readFileSync } = await import('node:fs');
  const { SYNC_DEFAULTS } = await import('../../shared/schemas/index.ts');
  const { INT8_CHUNK } = await import('../../worker/engine/sync/index.ts');
  const doc = readFileSync(new URL('../../docs/sync.md', import.meta.url), 'utf8');
  const block = /```yaml\nsync:\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
  for (const k of ['every', 'outer_lr', 'outer_momentum', 'fragments', 'overlap', 'error_feedback'] as const) {
    const m = new RegExp(`^\\s+${k}: (\\S+)`, 'm').exec(block);
    t.equal(m?.[1], String(SYNC_DEFAULTS[k]), `the example's ${k} is the default`);
  }
  t.match(block, /mode: diloco\s+# allreduce \(default\)/, 'mode default named');
  t.match(doc, new RegExp(`per ${INT8_CHUNK} values`), `int8 scale per ${INT8_CHUNK} values`);
});

t.test('flotilla submit: sync from the YAML file, flags over it', async (t) => {
  const { writeFileSync, mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { run: submit } = await import('../../bin/cli/submit.ts');
  const { head } = await headFixture(t, { port: 0 });
  const dir = mkdtempSync(join(tmpdir(), 'sync-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'job.yaml');
  writeFileSync(file, 'trainer:\n  kind: logreg\n  steps: 5\nsync:\n  mode: diloco\n  every: 8\n  compress: bf16\n');
  const out: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => {
    out.push(a.join(' '));
  };
  let code: number;
  try {
    code = await submit([file, '--server', head.url, '--compress', 'int8', '--outer-lr', '0.5']);
  } finally {
    console.log = log;
  }
  t.equal(code, 0);
  const rec = head.ctl.jobs.get(out.join('').trim())!;
  t.match(
    rec.spec.sync,
    { mode: 'diloco', every: 8, compress: 'int8', outer_lr: 0.5, outer_momentum: 0.9 },
    "the file's sync with the flags over it",
  );
});
