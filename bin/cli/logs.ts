/**
 * `flotilla logs ID [-f] [--from SEQ] [--json]`: a job's events (state, logs, metrics,
 * checkpoints). On a terminal metrics drive a progress bar and the other events print above it;
 * otherwise (pipes, CI) every event is one plain line.
 */
import { z } from 'zod';
import { HeadClient, serverUrl, formatEvent } from './client.ts';
import { clientFlags, defineCommand, flag, parse } from './parse.ts';
import { progressBar, tickOfMetric, wantsBar, type ProgressView } from './progress.ts';

export const spec = defineCommand({
  name: 'logs',
  synopsis: 'ID [-f] [--from SEQ] [--json] [--server URL]',
  flags: z.object({
    ...clientFlags,
    follow: flag.bool('keep streaming until the job ends', 'f'),
    from: flag.int('SEQ', 'start at this stream offset (the first column; resume with last + 1)', 0),
    json: flag.bool('one JSON event per line ({seq, event})'),
    'no-progress': flag.bool('plain lines even on a terminal (also FLOTILLA_PROGRESS=0)'),
  }),
  args: z.tuple([z.string().min(1)], { error: 'expected one job ID' }),
});

export async function run(argv: string[]): Promise<number> {
  const p = parse(spec, argv);
  if (!p.ok) return p.exit;
  const values = p.flags;
  const positionals = p.args;
  const ac = new AbortController();
  const onSig = () => ac.abort();
  process.once('SIGINT', onSig);
  const client = new HeadClient(serverUrl(values.server), values.token);
  let bar: ProgressView | undefined;
  try {
    const from = values.from || undefined;
    const spec =
      !values.json && !values['no-progress'] && values.follow && wantsBar() ? (await client.get(positionals[0])).spec : undefined;
    if (spec) bar = progressBar(spec.name ?? positionals[0]);
    for await (const line of client.events(positionals[0], { from, follow: !!values.follow, signal: ac.signal })) {
      if (values.json) console.log(JSON.stringify(line));
      else if (bar && spec && line.event.type === 'metric') bar.tick(tickOfMetric(spec, line.event));
      else if (bar) bar.line(formatEvent(line));
      else console.log(formatEvent(line));
    }
  } catch (e) {
    if (!ac.signal.aborted) throw e;
  } finally {
    bar?.stop();
    process.off('SIGINT', onSig);
  }
  return 0;
}
