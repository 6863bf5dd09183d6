/** Actor creds minted ahead of placement (head/auth/mint-ahead.ts), with a counting minter. */
import t from 'tap';
import { actorIdOf, CredsAhead } from '../../head/auth/mint-ahead.ts';
import type { CredentialMinter } from '../../head/auth/minter.ts';
import type { HeadJob } from '../../head/state/job-store.ts';

function counting(): { minter: CredentialMinter; minted: string[] } {
  const minted: string[] = [];
  const no = () => Promise.reject(new Error('not used here'));
  return { minted, minter: { actor: async (jobId, actorId) => { minted.push(actorId); return `creds of ${jobId}/${actorId}`; }, worker: no, pool: no, grant: no } };
}

const job = (id: string, generation = 0, state: HeadJob['state'] = 'pending') => ({ id, generation, state }) as HeadJob;

t.test('creds minted ahead are taken once by the placement; stale ones are dropped', async (t) => {
  const { minter, minted } = counting();
  const ahead = new CredsAhead(minter);
  const jobs = new Map([['j1', job('j1')], ['j2', job('j2')]]);
  ahead.prepare([{ job: jobs.get('j1')!, ranks: [0, 1] }, { job: jobs.get('j2')!, ranks: [0] }], (id) => jobs.get(id));
  t.same(minted, ['j1-g0-r0', 'j1-g0-r1', 'j2-g0-r0'], 'every rank of the next jobs, named as the controller names actors');
  t.equal(actorIdOf('j1', 0, 1), 'j1-g0-r1');
  ahead.prepare([{ job: jobs.get('j1')!, ranks: [0, 1] }], (id) => jobs.get(id));
  t.equal(minted.length, 3, 'a second pass mints nothing again');

  t.equal(await ahead.take('j1', 'j1-g0-r0'), 'creds of j1/j1-g0-r0', 'the placement takes the ones minted ahead');
  t.equal(minted.length, 3, 'without minting');
  t.equal(await ahead.take('j1', 'j1-g0-r0'), 'creds of j1/j1-g0-r0', 'taken twice: minted anew');
  t.equal(minted.length, 4, 'the second take minted');
  t.equal(await ahead.take('jX', 'j1-g0-r1'), 'creds of jX/j1-g0-r1', 'an actor id of another job is not handed out');

  jobs.set('j2', job('j2', 1, 'recovering'));
  ahead.prepare([], (id) => jobs.get(id));
  t.equal(ahead.size, 0, 'creds of an older generation (and the ones taken) are gone');
  ahead.prepare([{ job: job('j3'), ranks: [0] }], () => undefined);
  ahead.prepare([], () => undefined);
  t.equal(ahead.size, 0, 'creds of a job no longer known are gone');
});
