/**
 * `flotilla logs ID [-f] [--from SEQ] [--json]`: a job's events (state, logs, metrics,
 * checkpoints). On a terminal metrics drive a progress bar and the other events print above it;
 * otherwise (pipes, CI) every event is one plain line.
 */
import { parseArgs } from 'node:util';
import { HeadClient, serverUrl, formatEvent } from './client.ts';
import { progressBar, tickOfMetric, wantsBar, type ProgressView } from './progress.ts';

const USAGE = `usage: flotilla logs ID [-f] [--from SEQ] [--json] [--server URL]

  -f, --follow  keep streaming until the job ends
  --from SEQ    start at this stream offset (the first column; resume with last + 1)
  --json        one JSON event per line ({seq, event})
  --no-progress plain lines even on a terminal (also FLOTILLA_PROGRESS=0)`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      server: { type: 'string' },
      token: { type: 'string' },
      follow: { type: 'boolean', short: 'f' },
      from: { type: 'string' },
      json: { type: 'boolean' },
      'no-progress': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!positionals[0]) {
    console.error(USAGE);
    return 2;
  }
  const ac = new AbortController();
  const onSig = () => ac.abort();
  process.once('SIGINT', onSig);
  const client = new HeadClient(serverUrl(values.server), values.token);
  let bar: ProgressView | undefined;
  try {
    const from = values.from ? Number(values.from) : undefined;
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
