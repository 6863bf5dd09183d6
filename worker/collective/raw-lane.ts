/**
 * RawLane: a publish/subscribe-only client of the NATS text protocol over plain TCP, for the
 * data plane. Measured on this project's loopback: nats.js spends most of its receive time
 * growing a buffer by doubling copies for every message larger than a socket read; here a
 * message larger than the read is copied once into a buffer of its exact size (4-byte aligned,
 * so it can be viewed as floats), and payloads go to the socket as they are (writev).
 * Auth (creds: JWT + signed nonce) and TLS are set up by raw-handshake.ts; a server it cannot
 * satisfy (auth without creds) is RawLaneUnsupported and the group falls back to nats.js lanes.
 * No reconnect of its own: a lane whose connection ends reports it once (`onClosed`), and the
 * group opens new lanes and runs its operations in flight again in a new epoch (group.ts).
 *
 * Liveness: a server cut off by a partition sends nothing and closes nothing, so a lane would
 * wait on it for ever (until the operation's timeout fails the step). Like every nats.js client
 * of the project (shared/nats-connect.ts LIVENESS), a lane PINGs every `pingIntervalMs`; one whose
 * PING has been handed to the kernel for `staleMs` (interval x maxPingOut) with nothing at all
 * received since is closed as lost, so the group moves its lanes to a live server within
 * ~1-1.5 s. Any bytes received count as life (a PONG queued behind data is not silence); a PING
 * queued behind our own unsent data is not timed until it leaves.
 * Over 300 lines: one TCP protocol client whose parser, writer and reconnect share the socket's state.
 */
import type { Socket } from 'node:net';
import type { Lane, LaneHandler, LaneStreamer } from './lane.ts';
import type { StreamSink } from './stream-sink.ts';
import { connectAuth, openRawSocket, type RawLaneSecurity, type ServerInfo } from './raw-handshake.ts';
import { LIVENESS, pingIntervalMs } from '../../shared/nats-connect.ts';

export { RawLaneUnsupported } from './raw-handshake.ts';

const CRLF = Buffer.from('\r\n');
const PING = Buffer.from('PING\r\n');
const PONG = Buffer.from('PONG\r\n');

export interface RawLaneOptions extends RawLaneSecurity {
  /** "host:port" */
  server: string;
  timeoutMs?: number;
  /** called once if the connection ends while the lane is open */
  onClosed?: (err?: Error) => void;
  /** liveness PINGs (default: pingIntervalMs() and LIVENESS.maxPingOut, as the nats.js clients); 0 turns them off */
  pingIntervalMs?: number;
  maxPingOut?: number;
}

export function connectRawLane(o: RawLaneOptions): Promise<RawLane> {
  const i = o.server.lastIndexOf(':');
  const host = o.server.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(o.server.slice(i + 1));
  return new Promise<RawLane>((resolve, reject) => {
    let socket: Socket | undefined;
    const timer = setTimeout(
      () => fail(new Error(`raw lane to ${o.server}: no answer within ${o.timeoutMs ?? 10_000} ms`)),
      o.timeoutMs ?? 10_000,
    );
    const fail = (e: Error): void => {
      clearTimeout(timer);
      socket?.destroy();
      reject(e);
    };
    openRawSocket(host, port, o, {
      onSocket: (s) => {
        socket = s;
      },
    }).then(({ socket: s, info }) => {
      s.once('error', fail);
      const lane = new RawLane(s, o.onClosed, info, connectAuth(info, o));
      lane.server = o.server;
      lane.ready.then(() => {
        clearTimeout(timer);
        s.off('error', fail);
        const every = o.pingIntervalMs ?? pingIntervalMs();
        if (every > 0) lane.watch(o.server, every, every * (o.maxPingOut ?? LIVENESS.maxPingOut));
        resolve(lane);
      }, fail);
    }, fail);
  });
}

export class RawLane implements Lane {
  maxPayload = 1024 * 1024;
  /** "host:port" of its server (set by connectRawLane) */
  server = '';
  readonly ready: Promise<void>;
  private readonly socket: Socket;
  private readonly handlers = new Map<number, { handler: LaneHandler; streamer?: LaneStreamer }>();
  private readonly pongs: ((err?: Error) => void)[] = [];
  private opened = false;
  private nextSid = 1;
  private pendingBorrowed = 0;
  private readonly settlers: (() => void)[] = [];
  private closing = false;
  private readyResolve!: () => void;
  private readyReject!: (e: Error) => void;
  private lost!: (e: Error) => void;
  private gotInfo = false;
  // liveness (watch())
  private lastRx = performance.now();
  /** when the outstanding liveness PING reached the kernel (undefined: none out, or still queued) */
  private pingOutSince: number | undefined;
  private pingOut = false;
  private liveTimer: NodeJS.Timeout | undefined;
  // parser state
  private line: Buffer | undefined; // a control line split across reads
  private payload: Uint8Array | undefined; // the message being assembled
  private filled = 0;
  private sink: StreamSink | undefined; // or the sink it streams into
  private sinkLeft = 0;
  private msgSubject = '';
  private msgSid = 0;
  private skipCrlf = 0; // bytes of the payload's trailing CRLF still to skip

  /** `socket` has passed the server's INFO (`info`; TLS already set up): the lane sends CONNECT with `auth`. */
  constructor(
    socket: Socket,
    onClosed: ((err?: Error) => void) | undefined,
    info: ServerInfo,
    private readonly auth: Record<string, string> = {},
  ) {
    this.socket = socket;
    this.ready = new Promise<void>((res, rej) => {
      this.readyResolve = res;
      this.readyReject = rej;
    });
    this.ready.catch(() => {});
    let lastErr: Error | undefined;
    socket.on('data', (b: Buffer) => {
      this.lastRx = performance.now();
      try {
        this.parse(b);
      } catch (e) {
        lastErr = e as Error;
        this.readyReject(lastErr);
        socket.destroy(lastErr);
      }
    });
    socket.on('error', (e) => {
      lastErr = e;
    });
    this.lost = (e) => {
      lastErr = e;
      socket.destroy();
    };
    socket.on('close', () => {
      clearInterval(this.liveTimer);
      const err = lastErr ?? new Error('raw lane closed by the server');
      this.readyReject(err);
      for (const p of this.pongs.splice(0)) p(err);
      this.pendingBorrowed = 0;
      for (const s of this.settlers.splice(0)) s();
      if (this.opened && !this.closing) onClosed?.(err);
    });
    this.onInfo(info);
    socket.resume();
  }

  publish(subject: string, payload: Uint8Array, borrowed: boolean): void {
    this.socket.cork();
    this.socket.write(`PUB ${subject} ${payload.byteLength}\r\n`, 'latin1');
    this.socket.write(payload);
    if (borrowed) {
      this.pendingBorrowed++;
      this.socket.write(CRLF, this.onBorrowedWritten);
    } else {
      this.socket.write(CRLF);
    }
    this.socket.uncork();
  }

  /** Starts the liveness PINGs (see the file comment): a silent server closes the lane as lost. */
  watch(server: string, intervalMs: number, staleMs: number): void {
    clearInterval(this.liveTimer);
    this.liveTimer = setInterval(() => {
      if (this.closing || this.socket.destroyed) {
        clearInterval(this.liveTimer);
        return;
      }
      const now = performance.now();
      if (this.pingOutSince !== undefined) {
        const silent = now - Math.max(this.lastRx, this.pingOutSince);
        if (silent > staleMs) this.lost(new Error(`raw lane to ${server}: the server did not answer a PING for ${Math.round(silent)} ms`));
        return;
      }
      if (this.pingOut) return; // still queued behind our own data
      this.pingOut = true;
      this.pongs.push(() => {
        this.pingOut = false;
        this.pingOutSince = undefined;
      });
      this.socket.write(PING, () => {
        if (this.pingOut) this.pingOutSince = performance.now();
      });
    }, intervalMs);
    this.liveTimer.unref();
  }

  settle(): Promise<void> {
    if (this.pendingBorrowed === 0 || this.socket.destroyed) return Promise.resolve();
    return new Promise<void>((resolve) => this.settlers.push(resolve));
  }

  private readonly onBorrowedWritten = (): void => {
    // writes complete in order; an error also ends the wait (the socket is gone with the data)
    if (--this.pendingBorrowed === 0) for (const s of this.settlers.splice(0)) s();
  };

  subscribe(subject: string, handler: LaneHandler, streamer?: LaneStreamer): void {
    const sid = this.nextSid++;
    this.handlers.set(sid, { handler, streamer });
    this.socket.write(`SUB ${subject} ${sid}\r\n`, 'latin1');
  }

  flush(): Promise<void> {
    if (this.socket.destroyed) return Promise.reject(new Error('raw lane is closed'));
    return new Promise<void>((resolve, reject) => {
      this.pongs.push((err) => (err ? reject(err) : resolve()));
      this.socket.write(PING);
    });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.liveTimer);
    this.handlers.clear();
    if (this.socket.destroyed) return;
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 2000).unref();
    });
  }

  private parse(b: Buffer): void {
    let i = 0;
    const n = b.length;
    while (i < n) {
      if (this.skipCrlf > 0) {
        const k = Math.min(this.skipCrlf, n - i);
        this.skipCrlf -= k;
        i += k;
        continue;
      }
      if (this.sink) {
        const k = Math.min(this.sinkLeft, n - i);
        this.sink.write(b.subarray(i, i + k));
        this.sinkLeft -= k;
        i += k;
        if (this.sinkLeft === 0) {
          const sink = this.sink;
          this.sink = undefined;
          this.skipCrlf = 2;
          sink.end();
        }
        continue;
      }
      if (this.payload) {
        const k = Math.min(this.payload.byteLength - this.filled, n - i);
        this.payload.set(b.subarray(i, i + k), this.filled);
        this.filled += k;
        i += k;
        if (this.filled === this.payload.byteLength) {
          const p = this.payload;
          this.payload = undefined;
          this.skipCrlf = 2;
          this.deliver(p);
        }
        continue;
      }
      const nl = b.indexOf(10, i);
      if (nl < 0) {
        this.line = this.line ? Buffer.concat([this.line, b.subarray(i)]) : Buffer.from(b.subarray(i));
        return;
      }
      let lineBuf = b.subarray(i, nl);
      if (this.line) {
        lineBuf = Buffer.concat([this.line, lineBuf]);
        this.line = undefined;
      }
      i = nl + 1;
      const end = lineBuf.length > 0 && lineBuf[lineBuf.length - 1] === 13 ? lineBuf.length - 1 : lineBuf.length;
      const line = lineBuf.toString('latin1', 0, end);
      if (line.startsWith('MSG ')) {
        const t = line.split(' ');
        const size = Number(t[t.length - 1]);
        this.msgSubject = t[1];
        this.msgSid = Number(t[2]);
        const sink = size > 0 ? this.handlers.get(this.msgSid)?.streamer?.(this.msgSubject, size) : undefined;
        if (sink) {
          this.sink = sink;
          this.sinkLeft = size;
        } else if (n - i >= size) {
          // the whole payload is in this read: a view; copied when misaligned for floats
          const view = b.subarray(i, i + size);
          i += size;
          this.skipCrlf = 2;
          this.deliver(view.byteOffset % 4 === 0 ? view : new Uint8Array(view));
        } else {
          this.payload = new Uint8Array(size);
          this.filled = 0;
        }
      } else if (line === 'PING') {
        this.socket.write(PONG);
      } else if (line === 'PONG') {
        this.pongs.shift()?.();
      } else if (line.startsWith('INFO ')) {
        this.onInfo(JSON.parse(line.slice(5)) as ServerInfo);
      } else if (line.startsWith('-ERR')) {
        throw new Error(`nats-server: ${line}`);
      } // +OK and anything else: ignored
    }
  }

  private deliver(data: Uint8Array): void {
    this.handlers.get(this.msgSid)?.handler(this.msgSubject, data);
  }

  private onInfo(info: ServerInfo): void {
    if (typeof info.max_payload === 'number') this.maxPayload = info.max_payload;
    if (this.gotInfo) return;
    this.gotInfo = true;
    const tls = 'encrypted' in this.socket && this.socket.encrypted === true;
    const connect = {
      verbose: false,
      pedantic: false,
      tls_required: tls,
      name: 'flotilla-collective-lane',
      lang: 'node-raw',
      version: '0',
      protocol: 1,
      echo: false,
      headers: false,
      no_responders: false,
      ...this.auth,
    };
    this.socket.write(`CONNECT ${JSON.stringify(connect)}\r\n`, 'latin1');
    this.pongs.push((err) => {
      if (err) {
        this.readyReject(err);
        return;
      }
      this.opened = true;
      this.readyResolve();
    });
    this.socket.write(PING);
  }
}
