/** `flotilla scale ID N`: changes a job's worker count (a running gang restarts at N from its checkpoint). */
import { parseArgs } from 'node:util';
import { HeadClient, serverUrl } from './client.ts';

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { server: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || positionals.length !== 2) {
    console.log('usage: flotilla scale ID WORKERS [--json] [--server URL]');
    return values.help ? 0 : 2;
  }
  const n = Number(positionals[1]);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`flotilla scale: WORKERS must be a positive integer, got '${positionals[1]}'`);
    return 2;
  }
  const j = await new HeadClient(serverUrl(values.server), values.token).scale(positionals[0], n);
  console.log(values.json ? JSON.stringify(j, null, 2) : `${j.id} ${j.state} workers=${j.spec.workers} generation=${j.generation}`);
  return 0;
}
