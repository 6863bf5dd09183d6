/**
 * `flotilla chaos run`: a bad plan is refused with every bad field named (exit 2, nothing
 * submitted); the shipped smoke plan is valid. (Runs against a cluster: test/e2e/chaos-run.test.ts.)
 */
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { cli } from '../head/helpers/procs.ts';
import { loadPlan } from '../../bin/cli/chaos.ts';

const dir = mkdtempSync(join(tmpdir(), 'flotilla-chaos-'));
const write = (name: string, plan: unknown): string => {
  const p = join(dir, name);
  writeFileSync(p, typeof plan === 'string' ? plan : stringify(plan));
  return p;
};

t.test('a bad plan: exit 2, every bad field named by its path', async (t) => {
  const bad = write('bad.yaml', {
    experiments: [
      { name: 'a', job: { trainer: { kind: 'logreg', steps: 10 } }, expect: { max_steps_lost: -1, digest_equal_baseline: true } },
      { name: 'b', job: { trainer: { kind: 'logreg', steps: 'many' }, faults: [{ kind: 'stall' }] } },
      { name: 'c', job: { trainer: { kind: 'yolov5' } }, expect: { state: 'finished' } },
      { name: 'a', job: { trainer: { kind: 'logreg' } }, expect: { max_recovery: 3 } },
    ],
  });
  const r = await cli(['chaos', 'run', bad, '--server', 'http://127.0.0.1:9']);
  t.equal(r.code, 2, 'exit 2');
  for (const field of [
    'experiments.0.expect.max_steps_lost',
    'experiments.1.job.trainer.steps',
    'experiments.1.job.faults.0.duration_ms',
    'experiments.2.expect.state',
    'experiments.3.expect',
  ]) {
    t.match(r.stderr, new RegExp(`^\\s+${field.replace(/\./g, '\\.')}: `, 'm'), `names ${field}`);
  }
  t.notMatch(r.stderr, /cannot reach the head/, 'refused before any request');
  const twice = await cli([
    'chaos',
    'run',
    write('twice.yaml', {
      experiments: [
        { name: 'a', job: { trainer: { kind: 'logreg' } } },
        { name: 'a', job: { trainer: { kind: 'logreg' } } },
      ],
    }),
  ]);
  t.equal(twice.code, 2);
  t.match(twice.stderr, /experiments\.1\.name: duplicate experiment name 'a'/);
  t.equal((await cli(['chaos', 'run', write('notyaml.yaml', 'experiments: [')])).code, 2, 'a yaml syntax error is exit 2');
  t.equal((await cli(['chaos', 'walk', bad])).code, 2, 'unknown subcommand: usage, exit 2');
  t.ok(
    loadPlan(join(import.meta.dirname, '..', '..', 'deploy', 'chaos', 'smoke.yaml')).experiments.length > 0,
    'the shipped smoke plan is valid',
  );
});
