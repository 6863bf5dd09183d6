/**
 * The node agent's part of fault injection (shared/schemas/fault.ts). The head arms a fault
 * on this node with NodeControl `fault`; the agent carries out its own kinds at once (kill-actor,
 * kill-node, preempt-node, stall, partition) or, when the fault waits for a step or is the
 * actor's to do, hands it to the rank's actor over IPC (worker/actor/faults.ts), which reports
 * `due` at the trigger step and waits while the agent (or, for corrupt-checkpoint, the head)
 * does it. Every phase goes to the head as a FaultReport request on this node's own subject
 * (agents may not publish job events; the head publishes the `fault` event and answers).
 *
 * What each kind does here: kill-actor SIGKILLs the rank's process; stall SIGSTOPs it for
 * duration_ms, then SIGCONTs it; kill-node reports, SIGKILLs every actor of this agent, then
 * the agent itself; preempt-node sends the agent its own SIGTERM (the drain path); partition
 * cuts this process's NATS connections and tells every actor of this agent to cut its own, for
 * duration_ms (shared/nats-cut.ts).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../../shared/logger.ts';
import type { Subjects } from '../../shared/subjects.ts';
import { FlotillaError } from '../../shared/errors.ts';
import { call, NoReply } from '../../shared/endpoint.ts';
import { FaultReportEndpoint } from '../../shared/endpoints.ts';
import { cutConnections } from '../../shared/nats-cut.ts';
import { AGENT_FAULTS, type ArmedFault, type FaultReport } from '../../shared/schemas/index.ts';
import { abortableSleep, type ActorToAgent } from '../actor/index.ts';
import type { ActorProcess } from './actor-process.ts';

/** How long a report is retried (a partition's `ended` waits out the reconnect). */
export const REPORT_TRIES = 40;
const REPORT_GAP_MS = 500;

export interface AgentFaultsDeps {
  nodeId: string;
  nc: NatsConnection;
  s: Subjects;
  log: Logger;
  actors(): ReadonlyMap<string, ActorProcess>;
  /** preempt-node: the agent's SIGTERM drain path */
  preempt(): void;
  /** kill-node: this agent process dies */
  die(): void;
  /** the agent is closing: reports stop retrying */
  closing: AbortSignal;
}

type FaultPhaseMsg = Extract<ActorToAgent, { type: 'fault' }>;

export class AgentFaults {
  /** faults given to this node, by `<jobId>/<fault id>` */
  private readonly mine = new Map<string, ArmedFault>();
  /** faults for actors that do not listen to IPC yet */
  private readonly held = new Map<string, ArmedFault[]>();
  /**
   * `<jobId>/<fault id>` already carried out here: a copy handed out again for a newer generation
   * (the head may not have the `injected` report yet when the exit it caused ends the generation)
   * is accepted and dropped, so a fault fires once
   */
  private readonly fired = new Set<string>();

  constructor(private readonly d: AgentFaultsDeps) {}

  /** NodeControl `fault`: accepted once per fault and generation (a repeat is answered the same). */
  accept(f: ArmedFault): { accepted: true; fault_id: string } {
    if (f.nodeId !== this.d.nodeId)
      throw new FlotillaError('FLO_VALIDATION', `fault ${f.fault_id} is for node ${f.nodeId}, this is ${this.d.nodeId}`);
    const key = `${f.jobId}/${f.fault_id}`;
    if (this.fired.has(key) || this.mine.get(key)?.generation === f.generation) return { accepted: true, fault_id: f.fault_id };
    const viaActor = f.spec.at_step !== undefined || !AGENT_FAULTS.includes(f.spec.kind);
    if (viaActor) {
      const a = f.actorId ? this.d.actors().get(f.actorId) : undefined;
      if (!a)
        throw new FlotillaError(
          'FLO_NOT_FOUND',
          `fault ${f.fault_id} needs actor ${f.actorId ?? '(none named)'}, which does not run on node ${this.d.nodeId}`,
        );
      this.mine.set(key, f);
      if (a.state === 'running') a.send({ type: 'fault', fault: f });
      else this.held.set(a.spec.actorId, [...(this.held.get(a.spec.actorId) ?? []), f]);
    } else {
      this.mine.set(key, f);
      void this.execute(f, undefined).catch((e: Error) => this.d.log.error({ err: e, fault: f.fault_id }, 'fault not carried out'));
    }
    return { accepted: true, fault_id: f.fault_id };
  }

  /** Wires a new actor process: its fault reports, and the faults held until it runs. */
  attach(proc: ActorProcess): void {
    proc.onFault = (m) => {
      void this.fromActor(proc, m).catch((e: Error) => this.d.log.error({ err: e, fault: m.fault_id }, 'fault report of an actor failed'));
    };
    proc.onRunning = () => {
      for (const f of this.held.get(proc.spec.actorId) ?? []) proc.send({ type: 'fault', fault: f });
      this.held.delete(proc.spec.actorId);
    };
    void proc.exited.then(() => this.held.delete(proc.spec.actorId));
  }

  private async fromActor(proc: ActorProcess, m: FaultPhaseMsg): Promise<void> {
    const f = this.mine.get(`${proc.spec.jobId}/${m.fault_id}`);
    if (!f || f.actorId !== proc.spec.actorId) {
      this.d.log.warn({ fault: m.fault_id, actor: proc.spec.actorId }, 'an actor reported a fault it was not given');
      return;
    }
    this.fired.add(`${f.jobId}/${f.fault_id}`);
    if (m.phase !== 'due') {
      await this.report(f, m.phase, m.step, m.message);
      return;
    }
    if (AGENT_FAULTS.includes(f.spec.kind)) await this.execute(f, m.step);
    else await this.report(f, 'due', m.step); // the head's to do: answered once done
    proc.send({ type: 'fault-go', fault_id: f.fault_id });
  }

  /** Carries out one of the agent's own kinds; `step`: the trigger step (else the rank's last). */
  private async execute(f: ArmedFault, step: number | undefined): Promise<void> {
    const { d } = this;
    this.fired.add(`${f.jobId}/${f.fault_id}`);
    const a = f.actorId ? d.actors().get(f.actorId) : undefined;
    const at = step ?? a?.step;
    const ms = f.spec.duration_ms ?? 0;
    switch (f.spec.kind) {
      case 'kill-actor':
      case 'stall': {
        const pid = a?.pid;
        if (!a || pid === undefined || a.state === 'exited') {
          await this.report(f, 'failed', at, `actor ${f.actorId ?? '?'} is not running on node ${d.nodeId}`);
          return;
        }
        if (f.spec.kind === 'kill-actor') {
          // reported first: the head then knows it fired before the exit ends the generation
          await this.report(f, 'injected', at, `SIGKILL to pid ${pid}`, 3);
          a.child.kill('SIGKILL');
          return;
        }
        process.kill(pid, 'SIGSTOP');
        await this.report(f, 'injected', at, `SIGSTOP to pid ${pid} for ${ms} ms`);
        await abortableSleep(ms, d.closing).catch(() => undefined);
        let message = `SIGCONT to pid ${pid}`;
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          message = `pid ${pid} was gone before SIGCONT`;
        }
        await this.report(f, 'ended', a.step, message);
        return;
      }
      case 'kill-node': {
        const actors = [...d.actors().values()];
        await this.report(f, 'injected', at, `SIGKILL to agent pid ${process.pid} and its ${actors.length} actor(s)`, 3);
        for (const p of actors) p.child.kill('SIGKILL');
        d.die();
        return;
      }
      case 'preempt-node':
        await this.report(f, 'injected', at, `SIGTERM to agent pid ${process.pid}: drain`, 3);
        d.preempt();
        return;
      case 'partition': {
        const actors = [...d.actors().values()];
        await this.report(f, 'injected', at, `NATS connections of the agent and its ${actors.length} actor(s) cut for ${ms} ms`);
        const cut = cutConnections(ms);
        for (const p of actors) p.send({ type: 'cut', ms });
        d.log.warn({ fault: f.fault_id, ms, connections: cut }, 'partition fault: NATS connections cut');
        await abortableSleep(ms, d.closing).catch(() => undefined);
        await this.report(f, 'ended', undefined, `the cut of ${ms} ms is over`);
        return;
      }
      default:
        await this.report(f, 'failed', at, `${f.spec.kind} is not carried out by the agent`);
    }
  }

  /** Tells the head (request on this node's fault subject), retried until it answers. */
  private async report(
    f: ArmedFault,
    phase: FaultReport['phase'],
    step: number | undefined,
    message?: string,
    tries = REPORT_TRIES,
  ): Promise<void> {
    const r: FaultReport = {
      jobId: f.jobId,
      fault_id: f.fault_id,
      generation: f.generation,
      phase,
      ...(f.rank === undefined ? {} : { rank: f.rank }),
      ...(step === undefined ? {} : { step }),
      ...(message ? { message } : {}),
    };
    for (let i = 1; i <= tries; i++) {
      try {
        await call(this.d.nc, FaultReportEndpoint, this.d.s.nodeFault(this.d.nodeId), r, { timeoutMs: 2000 });
        return;
      } catch (err) {
        if (!(err instanceof NoReply)) {
          this.d.log.warn({ fault: f.fault_id, phase, err }, 'the head refused a fault report');
          return;
        }
        if (i === 1 || i % 10 === 0)
          this.d.log.warn({ fault: f.fault_id, phase, err, attempt: i }, 'fault report not answered yet; retrying');
        if (this.d.closing.aborted) return;
        await abortableSleep(REPORT_GAP_MS, this.d.closing).catch(() => undefined);
      }
    }
    this.d.log.error({ fault: f.fault_id, phase }, 'fault report given up');
  }
}
