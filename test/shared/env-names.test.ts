/**
 * Every FLOTILLA_* variable read in the platform's source (bin, head, shared, worker) is either a
 * Config variable (shared/config.ts CONFIG_ENV_NAMES) or listed with its reason in
 * shared/env-names.ts; and every listed one is still read somewhere.
 */
import t from 'tap';
import { CONFIG_ENV_NAMES } from '../../shared/config.ts';
import { ENV_READ, OTHER_ENV } from '../../shared/env-names.ts';
import { envReads } from '../../scripts/docs/configuration.ts';

t.test('every FLOTILLA_* name read is in Config or listed with a reason', async (t) => {
  const reads = envReads();
  t.ok(reads.size > 20, `${reads.size} names read`);
  const config = new Set(CONFIG_ENV_NAMES);
  const stray = [...reads].filter(([n]) => !config.has(n) && !OTHER_ENV[n]).map(([n, files]) => `${n} (${[...files].join(', ')})`);
  t.same(stray, [], 'no name read outside Config and the list');
  t.same(
    Object.keys(OTHER_ENV).filter((n) => !reads.has(n)),
    [],
    'no listed name that nothing reads',
  );
  t.same(
    Object.keys(OTHER_ENV).filter((n) => config.has(n)),
    [],
    'no name both in Config and in the list',
  );
});

t.test('the scan finds reads in each form and nothing else', async (t) => {
  const names = (src: string) => [...src.matchAll(ENV_READ)].map((m) => m[1]);
  t.same(names("process.env.FLOTILLA_A; env['FLOTILLA_B']; const X = 'FLOTILLA_C';"), ['FLOTILLA_A', 'FLOTILLA_B', 'FLOTILLA_C']);
  t.same(
    names(`const s = \`FLOTILLA_PROBE_$${'{'}tag}\`; // FLOTILLA_D in a comment`),
    [],
    'a name prefix and a bare comment are not reads',
  );
});
