export { Agent, AGENT_STATES, checkSpec, type AgentState, type AgentOptions } from './agent.ts';
export { ActorProcess, type ActorProcessOptions } from './actor-process.ts';
export { outcomeOf, type ExitFacts, type StopIntent } from './outcome.ts';
export { probeBackend, type BackendReport } from './backend-probe.ts';
export { startAgent, defaultNodeId, REPO_ROOT, ACTOR_ENTRY, type StartedAgent } from './start.ts';
export { SHARE_ENV, THREADS_ENV, coreShareEnv } from './actor-threads.ts';
