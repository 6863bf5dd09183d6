/**
 * `flotilla fault ID KIND [--rank R | --node N] [--at-step S | --after-ms MS] [--duration-ms D]
 * [--rate-kbit K] [--fraction F] [--name LABEL]`: injects one fault into a running job
 * (POST /v1/jobs/:id/faults, admin) and prints its id. The flags are checked against the same
 * FaultSpec schema the head uses, every bad one named at once.
 */
import { parseArgs } from 'node:util';
import { FAULT_KINDS, FaultSpec, type FaultSpecInput } from '../../shared/schemas/fault.ts';
import { HeadClient, serverUrl } from './client.ts';

const USAGE = `usage: flotilla fault ID KIND [--rank R | --node N] [--at-step S | --after-ms MS] [--duration-ms D] [--rate-kbit K] [--fraction F] [--name LABEL] [--json] [--server URL]
kinds: ${FAULT_KINDS.join(', ')}
  stall, partition and slow-link need --duration-ms; slow-link --rate-kbit; drop-messages --fraction.
  Neither --at-step nor --after-ms: at once (the rank's next step for faults its actor carries out).`;

const FLAG_OF: Record<string, string> = {
  at_step: '--at-step',
  after_ms: '--after-ms',
  duration_ms: '--duration-ms',
  rate_kbit: '--rate-kbit',
  fraction: '--fraction',
  target: '--rank/--node',
  kind: 'KIND',
  name: '--name',
};

const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : v.trim() === '' ? Number.NaN : Number(v));

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      rank: { type: 'string' },
      node: { type: 'string' },
      'at-step': { type: 'string' },
      'after-ms': { type: 'string' },
      'duration-ms': { type: 'string' },
      'rate-kbit': { type: 'string' },
      fraction: { type: 'string' },
      name: { type: 'string' },
      server: { type: 'string' },
      token: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length !== 2) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const [id, kind] = positionals;
  if (values.rank !== undefined && values.node !== undefined) {
    console.error('flotilla fault: give --rank or --node, not both');
    return 2;
  }
  const target = values.node !== undefined ? { node: values.node } : values.rank !== undefined ? { rank: num(values.rank) } : undefined;
  const input = {
    kind,
    ...(target ? { target } : {}),
    ...(values['at-step'] !== undefined ? { at_step: num(values['at-step']) } : {}),
    ...(values['after-ms'] !== undefined ? { after_ms: num(values['after-ms']) } : {}),
    ...(values['duration-ms'] !== undefined ? { duration_ms: num(values['duration-ms']) } : {}),
    ...(values['rate-kbit'] !== undefined ? { rate_kbit: num(values['rate-kbit']) } : {}),
    ...(values.fraction !== undefined ? { fraction: num(values.fraction) } : {}),
    ...(values.name !== undefined ? { name: values.name } : {}),
  };
  const parsed = FaultSpec.safeParse(input);
  if (!parsed.success) {
    for (const i of parsed.error.issues) console.error(`flotilla fault: ${FLAG_OF[String(i.path[0])] ?? i.path.join('.')}: ${i.message}`);
    return 2;
  }
  const r = await new HeadClient(serverUrl(values.server), values.token).injectFaults(id, input as FaultSpecInput);
  console.log(
    values.json
      ? JSON.stringify(r, null, 2)
      : `${r.fault_ids.join(' ')} armed on ${r.jobId} (${kind}); follow it with: flotilla logs -f ${r.jobId}`,
  );
  return 0;
}
