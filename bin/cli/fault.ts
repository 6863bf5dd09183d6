/**
 * `flotilla fault ID KIND [--rank R | --node N] [--at-step S | --after-ms MS] [--duration-ms D]
 * [--rate-kbit K] [--fraction F] [--name LABEL]`: injects one fault into a running job
 * (POST /v1/jobs/:id/faults, admin) and prints its id. The flags are checked against the same
 * FaultSpec schema the head uses, every bad one named at once.
 */
import { z } from 'zod';
import { FAULT_KINDS, FaultSpec, type FaultSpecInput } from '../../shared/schemas/fault.ts';
import { HeadClient, serverUrl } from './client.ts';
import { clientFlags, defineCommand, flag, parse, usageError } from './parse.ts';

export const spec = defineCommand({
  name: 'fault',
  synopsis:
    'ID KIND [--rank R | --node N] [--at-step S | --after-ms MS] [--duration-ms D] [--rate-kbit K] [--fraction F] [--name LABEL] [--json] [--server URL]',
  intro: `  kinds: ${FAULT_KINDS.join(', ')}
  stall, partition and slow-link need --duration-ms; slow-link --rate-kbit; drop-messages --fraction.
  Neither --at-step nor --after-ms: at once (the rank's next step for faults its actor carries out).`,
  // numbers are read here; their ranges are the FaultSpec schema's (the head's own), checked below
  flags: z.object({
    rank: flag.num('R', 'the rank the fault hits'),
    node: flag.str('N', 'the node the fault hits (instead of --rank)'),
    'at-step': flag.num('S', 'inject when the rank reaches step S'),
    'after-ms': flag.num('MS', 'inject MS milliseconds from now'),
    'duration-ms': flag.num('D', 'how long a stall, partition or slow link lasts'),
    'rate-kbit': flag.num('K', 'slow-link: the link rate in kbit/s'),
    fraction: flag.num('F', 'drop-messages: the fraction dropped (0-1)'),
    name: flag.str('LABEL', "a label shown in the job's fault report"),
    ...clientFlags,
    json: flag.bool('print the armed fault ids as JSON'),
  }),
  args: z.tuple([z.string().min(1), z.string().min(1)], { error: 'expected a job ID and a fault KIND' }),
});

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

export async function run(argv: string[]): Promise<number> {
  const p = parse(spec, argv);
  if (!p.ok) return p.exit;
  const values = p.flags;
  const positionals = p.args;
  const [id, kind] = positionals;
  if (values.rank !== undefined && values.node !== undefined) return usageError(spec, 'give --rank or --node, not both');
  const target = values.node !== undefined ? { node: values.node } : values.rank !== undefined ? { rank: values.rank } : undefined;
  const input = {
    kind,
    ...(target ? { target } : {}),
    ...(values['at-step'] !== undefined ? { at_step: values['at-step'] } : {}),
    ...(values['after-ms'] !== undefined ? { after_ms: values['after-ms'] } : {}),
    ...(values['duration-ms'] !== undefined ? { duration_ms: values['duration-ms'] } : {}),
    ...(values['rate-kbit'] !== undefined ? { rate_kbit: values['rate-kbit'] } : {}),
    ...(values.fraction !== undefined ? { fraction: values.fraction } : {}),
    ...(values.name !== undefined ? { name: values.name } : {}),
  };
  const parsed = FaultSpec.safeParse(input);
  if (!parsed.success)
    return usageError(spec, ...parsed.error.issues.map((i) => `${FLAG_OF[String(i.path[0])] ?? i.path.join('.')}: ${i.message}`));
  const r = await new HeadClient(serverUrl(values.server), values.token).injectFaults(id, input as FaultSpecInput);
  console.log(
    values.json
      ? JSON.stringify(r, null, 2)
      : `${r.fault_ids.join(' ')} armed on ${r.jobId} (${kind}); follow it with: flotilla logs -f ${r.jobId}`,
  );
  return 0;
}
