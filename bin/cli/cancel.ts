/** `flotilla cancel ID`: cancels a pending, running or recovering job. */
import { z } from 'zod';
import { HeadClient, serverUrl } from './client.ts';
import { clientFlags, defineCommand, flag, parse } from './parse.ts';

export const spec = defineCommand({
  name: 'cancel',
  synopsis: 'ID [--json] [--server URL]',
  flags: z.object({ ...clientFlags, json: flag.bool('print the job record as JSON') }),
  args: z.tuple([z.string().min(1)], { error: 'expected one job ID' }),
});

export async function run(argv: string[]): Promise<number> {
  const p = parse(spec, argv);
  if (!p.ok) return p.exit;
  const j = await new HeadClient(serverUrl(p.flags.server), p.flags.token).cancel(p.args[0]);
  console.log(p.flags.json ? JSON.stringify(j, null, 2) : `${j.id} ${j.state}`);
  return 0;
}
