/** `flotilla cancel ID`: cancels a pending, running or recovering job. */
import { parseArgs } from 'node:util';
import { HeadClient, serverUrl } from './client.ts';

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { server: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || !positionals[0]) {
    console.log('usage: flotilla cancel ID [--json] [--server URL]');
    return values.help ? 0 : 2;
  }
  const j = await new HeadClient(serverUrl(values.server), values.token).cancel(positionals[0]);
  console.log(values.json ? JSON.stringify(j, null, 2) : `${j.id} ${j.state}`);
  return 0;
}
