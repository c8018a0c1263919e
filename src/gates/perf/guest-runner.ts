// Boots baseline or candidate kernels as a pair of guests (server + client over QEMU's socket netdev),
// sandboxed in a private network namespace, and reads pgnet's results from their serial consoles.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type PerfTest = 'TCP_RR' | 'TCP_CRR' | 'TCP_STREAM' | 'UDP_RR';

export interface ClientResult {
  test: PerfTest;
  transactions: number;
  bytes: number;
  elapsed_ns: number;
  trans_per_sec: number;
  throughput: number;
  busy_ns: number;
  busy_ns_per_trans: number;
  busy_ns_per_kb: number;
  /** UDP_RR: requests sent again after a lost datagram or while the server was not up */
  retransmits?: number;
  /** CPUs whose idle time was subtracted (busy = cpus x elapsed - idle) */
  cpus?: number;
}

export interface ServerResult {
  transactions: number;
  bytes: number;
  elapsed_ns: number;
  busy_ns: number;
}

export interface PairOptions {
  kernel: string;
  initrd: string;
  workDir: string;
  test: PerfTest;
  transactions: number;
  /** request,response sizes for RR tests */
  size?: string;
  /** message size for STREAM */
  msg?: number;
  reps?: number;
  accel?: 'tcg' | 'kvm';
  /** QEMU -icount (TCG only): guest time = instructions, the noise-immune metric */
  icount?: boolean;
  memMb?: number;
  timeoutSec?: number;
  port?: number;
  qemu?: string;
  /** run in a private network namespace (default: when root) */
  isolate?: boolean;
}

export interface PairResult {
  clients: ClientResult[];
  servers: ServerResult[];
  clock: string | null;
  wallMs: number;
  exitCode: number;
  clientLog: string;
  serverLog: string;
}

const here = path.dirname(fileURLToPath(import.meta.url));

function scriptPath(): string {
  for (const d of [path.join(here, 'guest'), path.resolve(here, '..', '..', '..', '..', 'src', 'gates', 'perf', 'guest')]) {
    if (existsSync(path.join(d, 'run-pair.sh'))) return path.join(d, 'run-pair.sh');
  }
  throw new Error('cannot find run-pair.sh');
}

/** `PGNET {...}` and `PGNET-SERVER {...}` lines from a console log. */
export function parseConsole(log: string): { clients: ClientResult[]; servers: ServerResult[]; clock: string | null; done: boolean } {
  const clients: ClientResult[] = [];
  const servers: ServerResult[] = [];
  let clock: string | null = null;
  for (const line of log.split(/\r?\n/)) {
    const m = /^(PGNET|PGNET-SERVER) (\{.*\})\s*$/.exec(line);
    if (m) {
      try {
        const v = JSON.parse(m[2]) as ClientResult & ServerResult;
        if (m[1] === 'PGNET') clients.push(v);
        else if (v.transactions > 0 || v.bytes > 0) servers.push(v);
      } catch {
        /* a line garbled by kernel messages on the same console: not a result */
      }
    }
    const c = /^PGNET-CLOCK (\S+)/.exec(line);
    if (c) clock = c[1];
  }
  return { clients, servers, clock, done: log.includes('PGNET-DONE') };
}

let nextPort = 20000 + (process.pid % 20000);

export function runGuestPair(o: PairOptions): Promise<PairResult> {
  mkdirSync(o.workDir, { recursive: true });
  const port = o.port ?? nextPort++;
  const isolate = o.isolate ?? process.getuid?.() === 0;
  const clientArgs = [`pg.test=${o.test}`, `pg.n=${o.transactions}`, `pg.reps=${o.reps ?? 1}`, `pg.size=${o.size ?? '1,1'}`, `pg.msg=${o.msg ?? 16384}`, `pg.port=${12865}`].join(' ');
  const env = {
    ...process.env,
    QEMU: o.qemu ?? 'qemu-system-x86_64',
    KERNEL: o.kernel,
    INITRD: o.initrd,
    OUT: o.workDir,
    PORT: String(port),
    ACCEL: o.accel ?? 'tcg',
    ICOUNT: (o.icount ?? (o.accel ?? 'tcg') === 'tcg') ? '1' : '0',
    MEM: String(o.memMb ?? 256),
    TIMEOUT: String(o.timeoutSec ?? 180),
    CLIENT_ARGS: clientArgs,
    SERVER_ARGS: '',
  };
  const script = scriptPath();
  const [cmd, args] = isolate ? ['unshare', ['--net', '--', 'sh', script]] : ['sh', [script]];
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args as string[], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      const read = (f: string) => (existsSync(path.join(o.workDir, f)) ? readFileSync(path.join(o.workDir, f), 'utf8') : '');
      const clientLog = read('client.log');
      const serverLog = read('server.log');
      const c = parseConsole(clientLog);
      const s = parseConsole(serverLog);
      if (code !== 0 && c.clients.length === 0) {
        return reject(new Error(`guest pair failed (exit ${code}): ${err.trim() || read('client.err').trim() || clientLog.slice(-500)}`));
      }
      resolve({ clients: c.clients, servers: s.servers, clock: c.clock, wallMs: Date.now() - t0, exitCode: code ?? -1, clientLog, serverLog });
    });
  });
}
