/**
 * One rank in its own process, for fault tests: joins the group from env, then runs allreduce
 * in a loop and prints `iter <k>` after each, until killed or an operation fails.
 */
import { connect } from '@nats-io/transport-node';
import { createGroup, type AlgorithmName } from '../../worker/collective/index.ts';

const env = (k: string): string => {
  const v = process.env[k];
  if (v === undefined) throw new Error(`missing env ${k}`);
  return v;
};
const nc = await connect({ servers: env('COLL_URL') });
const rank = Number(env('COLL_RANK'));
const group = await createGroup({
  nc,
  subjectBase: env('COLL_BASE'),
  jobId: 'job',
  generation: Number(env('COLL_GEN')),
  rank,
  worldSize: Number(env('COLL_N')),
  timeoutMs: 20_000,
  algorithm: env('COLL_ALGO') as AlgorithmName,
  chunkBytes: 4096,
});
process.stdout.write('joined\n');
const data = new Float32Array(Number(env('COLL_LEN')));
for (let k = 0; ; k++) {
  data.fill(1);
  await group.allreduce(data);
  process.stdout.write(`iter ${k}\n`);
}
