// Runs the matrix's perf cells through the perf gate (gate.ts: interleaved boots, sequential looks), each
// topology behind the gate's `runPair` hook, so every cell gets the same statistics and verdict rules.
import path from 'node:path';
import { runPerfGate, type PerfCell } from './gate.js';
import { runGuestPair, type ClientResult, type PairOptions, type PairResult } from './guest-runner.js';
import type { CellOutcome, MatrixCell } from './matrix.js';
import type { GateRule, SequentialPlan } from './stats.js';
import { runFileCopy, runHotplug, runMigration, runQos, type CopyResult } from './functional.js';
import { fairness, runSeveralPairs, runTapGuest, type GuestInfo } from './topologies.js';

export interface MatrixRunOptions {
  baselineKernel: string;
  candidateKernel: string;
  /** the standard guest initramfs (guest-to-guest, several guests) */
  initrd: string;
  /** the topology initramfs (guest-to-host, multiqueue) */
  topologyInitrd: string;
  workDir: string;
  plan: SequentialPlan;
  accel: 'tcg' | 'kvm';
  transactions?: number;
  /** relative change that matters, per netperf test (default RR 0.5%, STREAM 1%) */
  thresholds?: Partial<Record<PerfCell['test'], number>>;
  onProgress?: (msg: string) => void;
  signal?: AbortSignal;
  /** wall-time budget per perf cell (ms): no further look starts once it is spent, a look under way stops with it */
  cellBudgetMs?: number;
  /** the kernel the functional cells boot (default: the candidate): one with ACPI, PCI hotplug and 8021q */
  functionalKernel?: string;
  /** base and candidate kernel trees for the ring cells (tools/virtio/ringtest) */
  baseTree?: string;
  candidateTree?: string;
}

/** One client result standing for several (streams of one guest, or several guest pairs). */
function combine(results: ClientResult[], busy: number): ClientResult {
  const transactions = results.reduce((s, c) => s + c.transactions, 0);
  const bytes = results.reduce((s, c) => s + c.bytes, 0);
  return {
    test: results[0].test, transactions, bytes,
    elapsed_ns: Math.max(...results.map((c) => c.elapsed_ns)),
    trans_per_sec: results.reduce((s, c) => s + c.trans_per_sec, 0),
    throughput: results.reduce((s, c) => s + c.throughput, 0),
    busy_ns: busy, busy_ns_per_trans: transactions ? busy / transactions : 0, busy_ns_per_kb: bytes ? busy / (bytes / 1024) : 0,
  };
}

export interface CellObservations {
  /** what the guests saw (multiqueue: CPUs and queues) */
  info: GuestInfo[];
  /** several guests: Jain's index of the per-pair rates, per boot */
  jain: number[];
}

/** The gate's runPair for a matrix cell: boots the cell's topology and returns one pair-shaped result. */
export function pairRunnerFor(
  cell: MatrixCell, o: Pick<MatrixRunOptions, 'topologyInitrd'>, seen: CellObservations, pairRun: typeof runGuestPair = runGuestPair,
): typeof runGuestPair {
  if (cell.topology === 'guest-to-host' || cell.topology === 'multiqueue') {
    return async (p: PairOptions): Promise<PairResult> => {
      const r = await runTapGuest({ ...p, initrd: o.topologyInitrd, queues: cell.queues, vcpus: cell.queues, vhost: cell.vhost, binDir: path.join(p.workDir, '..', 'bin') });
      if (r.info) seen.info.push(r.info);
      const widest = Math.max(...r.streams.map((s) => s.busy_ns));
      if (!(widest > 0)) {
        throw new Error(`guest busy time is 0 with ${r.info?.cpus ?? '?'} CPUs: pgnet's idle accounting counts one CPU's elapsed time against every CPU's idle time`);
      }
      // the host side is not a guest: only the guest's busy time counts
      return { clients: [combine(r.streams, widest)], servers: [], clock: r.clock, wallMs: r.wallMs, exitCode: r.exitCode, clientLog: r.log, serverLog: '' };
    };
  }
  if (cell.topology === 'several-guests') {
    return async (p: PairOptions): Promise<PairResult> => {
      const r = await runSeveralPairs({ ...p, pairs: cell.pairs, run: pairRun });
      seen.jain.push(r.rateFairness.jain);
      const clients = r.pairs.map((x) => x.clients[x.clients.length - 1]);
      const busy = r.pairs.reduce((s, x) => s + x.clients[x.clients.length - 1].busy_ns + (x.servers[x.servers.length - 1]?.busy_ns ?? 0), 0);
      return { clients: [combine(clients, busy)], servers: [], clock: r.pairs[0].clock, wallMs: r.wallMs, exitCode: 0, clientLog: '', serverLog: '' };
    };
  }
  return pairRun;
}

/**
 * Transactions per boot for a test. A TCP_CRR transaction is a whole connection, and pgnet's server prints a
 * result line (and reads /proc/timer_list) per connection: about 56 ms per transaction under TCG here, against
 * under 1 ms for TCP_RR (113 s per boot at 2,000). CRR cells run a tenth of the transactions, at least 200.
 */
export function transactionsFor(test: MatrixCell['test'], transactions: number): number {
  return test === 'TCP_CRR' ? Math.max(200, Math.round(transactions / 10)) : transactions;
}

/** Runs one perf cell as a gate; other kinds return null (their runners live elsewhere). */
export async function runPerfCell(cell: MatrixCell, o: MatrixRunOptions): Promise<CellOutcome | null> {
  if (cell.kind !== 'perf' || !cell.test) return null;
  const metric = cell.test === 'TCP_STREAM' ? `${cell.id}_cost_per_kb` : `${cell.id}_cost_per_trans`;
  const threshold = o.thresholds?.[cell.test] ?? (cell.test === 'TCP_STREAM' ? 0.01 : 0.005);
  const rules: Record<string, GateRule> = { [metric]: { direction: 'lower-is-better', threshold, require: 'not-regress' } };
  const seen: CellObservations = { info: [], jain: [] };
  const res = await runPerfGate({
    baselineKernel: o.baselineKernel, candidateKernel: o.candidateKernel, initrd: o.initrd, workDir: path.join(o.workDir, cell.id),
    cells: [{ id: cell.id, test: cell.test, transactions: transactionsFor(cell.test, o.transactions ?? 4000), size: cell.size, msg: cell.msg }],
    rules, plan: o.plan, accel: o.accel, onProgress: o.onProgress, signal: o.signal, runPair: pairRunnerFor(cell, o, seen),
    budgetMs: o.cellBudgetMs,
  });
  const notes: string[] = [];
  if (cell.topology === 'multiqueue' && seen.info.length) {
    const used = Math.min(...seen.info.map((i) => i.rx_queues));
    const cpus = Math.min(...seen.info.map((i) => i.cpus));
    if (used < cell.queues) notes.push(`the guest used ${used} of ${cell.queues} queue pairs (${cpus} CPU${cpus === 1 ? '' : 's'} online)`);
  }
  if (seen.jain.length) {
    const f = fairness(seen.jain);
    notes.push(`per-pair rate fairness (Jain) ${Math.min(...seen.jain).toFixed(3)}..${Math.max(...seen.jain).toFixed(3)} (spread of the index ${(f.spread * 100).toFixed(1)}%)`);
  }
  const wallS = (res.wallMs / 1000).toFixed(0);
  return {
    verdict: `${res.status}: ${res.summary}, ${wallS} s${notes.length ? `; ${notes.join('; ')}` : ''}`,
    details: { metrics: res.metrics, samples: res.samples, wall: res.wall, note: res.note, observations: seen, wall_ms: res.wallMs },
  };
}

const copies = new Map<string, Promise<CopyResult>>();

/** Runs a functional cell on the candidate kernel; both file-copy cells share one boot. */
export async function runFunctionalCell(cell: MatrixCell, o: MatrixRunOptions): Promise<CellOutcome | null> {
  if (cell.kind !== 'functional' || !cell.check) return null;
  const kernel = o.functionalKernel ?? o.candidateKernel;
  const base = { kernel, initrd: o.topologyInitrd, accel: o.accel, vhost: cell.vhost };
  if (cell.check === 'file-copy-to-guest' || cell.check === 'file-copy-from-guest') {
    const key = `${kernel}:${o.workDir}:${cell.vhost}`;
    if (!copies.has(key)) copies.set(key, runFileCopy({ ...base, workDir: path.join(o.workDir, `copy-${cell.vhost ? 'vhost' : 'novhost'}`) }));
    const r = await copies.get(key)!;
    const c = cell.check === 'file-copy-to-guest' ? r.toGuest : r.fromGuest;
    return { verdict: `${c.status}: ${c.summary}, ${(r.wallMs / 1000).toFixed(0)} s (one boot for both directions)`, details: c };
  }
  if (cell.check === 'qos-cgroup') {
    const r = await runQos({ ...base, workDir: path.join(o.workDir, cell.id), transactions: o.transactions ?? 3000 });
    return { verdict: `${r.status}: ${r.summary}`, details: r };
  }
  if (cell.check === 'hotplug') {
    const r = await runHotplug({ ...base, workDir: path.join(o.workDir, cell.id) });
    return r.status === 'not-run' ? { notRun: r.summary } : { verdict: `${r.status}: ${r.summary}`, details: r };
  }
  if (cell.check === 'migration') {
    const r = await runMigration({ ...base, workDir: path.join(o.workDir, cell.id) });
    return { verdict: `${r.status}: ${r.summary}`, details: r };
  }
  if (cell.check === 'vlan-filter' || cell.check === 'mac-filter') {
    const { runVlanFilter, runMacFilter } = await import('./filter.js');
    const r = await (cell.check === 'vlan-filter' ? runVlanFilter : runMacFilter)({ ...base, workDir: path.join(o.workDir, cell.id) });
    return r.status === 'not-run' ? { notRun: r.summary } : { verdict: `${r.status}: ${r.summary}`, details: r };
  }
  return { notRun: `no runner for the ${cell.check} check in this patchgate yet` };
}

/** Runs any cell of the matrix: perf through the gate, functional checks, ring cells on the two trees. */
export async function runMatrixCell(cell: MatrixCell, o: MatrixRunOptions): Promise<CellOutcome | null> {
  if (cell.kind === 'ring') {
    const { runRingCell } = await import('../ringtest/ringtest.js');
    return runRingCell(cell, { base: o.baseTree, candidate: o.candidateTree, workDir: path.join(o.workDir, cell.id), plan: o.plan });
  }
  return cell.kind === 'functional' ? runFunctionalCell(cell, o) : runPerfCell(cell, o);
}
