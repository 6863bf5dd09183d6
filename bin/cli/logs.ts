/** `flotilla logs ID [-f] [--from SEQ] [--json]`: a job's events (state, logs, metrics, checkpoints). */
import { parseArgs } from 'node:util';
import { HeadClient, serverUrl, formatEvent } from './client.ts';

const USAGE = `usage: flotilla logs ID [-f] [--from SEQ] [--json] [--server URL]

  -f, --follow  keep streaming until the job ends
  --from SEQ    start at this stream offset (the first column; resume with last + 1)
  --json        one JSON event per line ({seq, event})`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      server: { type: 'string' }, follow: { type: 'boolean', short: 'f' }, from: { type: 'string' }, json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { console.log(USAGE); return 0; }
  if (!positionals[0]) { console.error(USAGE); return 2; }
  const ac = new AbortController();
  const onSig = () => ac.abort();
  process.once('SIGINT', onSig);
  try {
    const from = values.from ? Number(values.from) : undefined;
    for await (const line of new HeadClient(serverUrl(values.server)).events(positionals[0], { from, follow: !!values.follow, signal: ac.signal })) {
      console.log(values.json ? JSON.stringify(line) : formatEvent(line));
    }
  } catch (e) {
    if (!ac.signal.aborted) throw e;
  } finally {
    process.off('SIGINT', onSig);
  }
  return 0;
}
