/** `flotilla scale ID N`: changes a job's worker count (a running gang restarts at N from its checkpoint). */
import { z } from 'zod';
import { HeadClient, serverUrl } from './client.ts';
import { clientFlags, defineCommand, flag, parse } from './parse.ts';

export const spec = defineCommand({
  name: 'scale',
  synopsis: 'ID WORKERS [--json] [--server URL]',
  flags: z.object({ ...clientFlags, json: flag.bool('print the job record as JSON') }),
  args: z.tuple(
    [
      z.string().min(1),
      z
        .string()
        .regex(/^[1-9]\d*$/, { error: (i) => `WORKERS must be a positive integer, got '${i.input}'` })
        .transform(Number),
    ],
    { error: 'expected a job ID and a number of WORKERS' },
  ),
});

export async function run(argv: string[]): Promise<number> {
  const p = parse(spec, argv);
  if (!p.ok) return p.exit;
  const [id, n] = p.args;
  const j = await new HeadClient(serverUrl(p.flags.server), p.flags.token).scale(id, n);
  console.log(p.flags.json ? JSON.stringify(j, null, 2) : `${j.id} ${j.state} workers=${j.spec.workers} generation=${j.generation}`);
  return 0;
}
