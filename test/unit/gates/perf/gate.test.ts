import { describe, expect, it } from 'vitest';
import { runPerfGate, type PerfCell } from '../../../../src/gates/perf/gate.js';
import { parseConsole, type PairOptions, type PairResult } from '../../../../src/gates/perf/guest-runner.js';

const console1 = `[    0.000000] Linux version 6.1.192 (gcc 12)
PGNET-CLOCK tsc
[    1.234567] random: crng init done
PGNET {"test":"TCP_RR","transactions":4000,"bytes":0,"elapsed_ns":2100000000,"trans_per_sec":1904.76,"throughput":0.000,"busy_ns":480000000,"busy_ns_per_trans":120000.0,"busy_ns_per_kb":0.000}
PGNET {"test":"TCP_RR","transactions":4000,"bytes":0,"elapsed_ns":2000000000,"trans_[   2.1] virtio_net: garbled
PGNET-DONE
`;

describe('guest console parsing', () => {
  it('reads pgnet result lines and the clocksource, skipping lines garbled by kernel messages', () => {
    const r = parseConsole(console1);
    expect(r.clock).toBe('tsc');
    expect(r.done).toBe(true);
    expect(r.clients).toHaveLength(1);
    expect(r.clients[0].busy_ns_per_trans).toBe(120000);
  });

  it('reads server lines and ignores the empty warm-up connections', () => {
    const r = parseConsole('PGNET-READY port 12865\nPGNET-SERVER {"test":1,"transactions":0,"bytes":0,"elapsed_ns":5,"busy_ns":1}\nPGNET-SERVER {"test":1,"transactions":4000,"bytes":0,"elapsed_ns":2000000000,"busy_ns":400000000}\n');
    expect(r.servers).toHaveLength(1);
    expect(r.servers[0].transactions).toBe(4000);
  });
});

/** A simulated guest pair: per-transaction cost with small deterministic noise; the candidate kernel costs more. */
function simulatedRunner(extraCost: number, calls: string[]) {
  let i = 0;
  return async (o: PairOptions): Promise<PairResult> => {
    calls.push(`${o.kernel}:${o.test}`);
    const noise = 1 + 0.002 * Math.sin(i++ * 1.7);
    const perTrans = 100_000 * noise * (o.kernel === 'cand' ? 1 + extraCost : 1);
    const n = o.transactions;
    const client = o.test === 'TCP_STREAM'
      ? { test: o.test, transactions: n, bytes: n * 16384, elapsed_ns: 1e9, trans_per_sec: n, throughput: 500, busy_ns: perTrans * n * 0.6, busy_ns_per_trans: 0, busy_ns_per_kb: 0 }
      : { test: o.test, transactions: n, bytes: 0, elapsed_ns: 2e9, trans_per_sec: 1500, throughput: 0, busy_ns: perTrans * n * 0.5, busy_ns_per_trans: perTrans * 0.5, busy_ns_per_kb: 0 };
    return { clients: [client], servers: [{ transactions: n, bytes: client.bytes, elapsed_ns: 2e9, busy_ns: client.busy_ns }], clock: 'tsc', wallMs: 10, exitCode: 0, clientLog: '', serverLog: '' };
  };
}

const cells: PerfCell[] = [
  { id: 'tcp_rr', test: 'TCP_RR', transactions: 4000 },
  { id: 'tcp_stream', test: 'TCP_STREAM', transactions: 4000 },
];
const rules = {
  tcp_rr_cost_per_trans: { direction: 'lower-is-better' as const, threshold: 0.005, require: 'not-regress' as const },
  tcp_stream_cost_per_kb: { direction: 'lower-is-better' as const, threshold: 0.01, require: 'not-regress' as const },
};

describe('perf gate sequencing', () => {
  it('interleaves baseline and candidate boots and flags a +5% cost as a regression at the first look', async () => {
    const calls: string[] = [];
    const r = await runPerfGate({ baselineKernel: 'base', candidateKernel: 'cand', initrd: 'rd', workDir: '/tmp/pg-perf-sim', cells, rules, plan: { looks: [5, 8, 12], alpha: 0.05 }, accel: 'tcg', runPair: simulatedRunner(0.05, calls) });
    expect(r.status).toBe('failure');
    expect(r.metrics.tcp_rr_cost_per_trans.verdict).toBe('regression');
    expect(r.metrics.tcp_rr_cost_per_trans.change).toBeGreaterThan(0.04);
    expect(r.metrics.tcp_rr_cost_per_trans.change).toBeLessThan(0.06);
    expect(r.samples.baseline.tcp_rr_cost_per_trans).toHaveLength(5);
    // A B A B ...: the sides alternate, each side running every cell
    expect(calls.slice(0, 4)).toEqual(['base:TCP_RR', 'base:TCP_STREAM', 'cand:TCP_RR', 'cand:TCP_STREAM']);
    expect(calls).toHaveLength(20);
    expect(r.note).toMatch(/TCG/);
  });

  it('passes the same kernel on both sides', async () => {
    const r = await runPerfGate({ baselineKernel: 'base', candidateKernel: 'base', initrd: 'rd', workDir: '/tmp/pg-perf-sim', cells, rules, plan: { looks: [5, 8, 12], alpha: 0.05 }, accel: 'tcg', runPair: simulatedRunner(0, []) });
    expect(r.status).toBe('success');
    for (const m of Object.values(r.metrics)) expect(m.verdict).toBe('no-change');
  });

  it('a wall-time budget stops the gate before its next look: the verdict is the last look\'s, and says so', async () => {
    // 3% noise per boot: five boots per side cannot decide an A/A comparison at a 0.5% threshold
    const noisy = async (o: PairOptions): Promise<PairResult> => {
      const r = await simulatedRunner(0, [])(o);
      const k = 1 + 0.03 * Math.sin(o.workDir.length * 0.7 + (noisyCalls++ * 2.3));
      for (const c of r.clients) c.busy_ns *= k;
      return r;
    };
    let noisyCalls = 0;
    const base = { baselineKernel: 'base', candidateKernel: 'base', initrd: 'rd', workDir: '/tmp/pg-perf-sim', cells: cells.slice(0, 1), rules: { tcp_rr_cost_per_trans: rules.tcp_rr_cost_per_trans }, plan: { looks: [5, 8, 12], alpha: 0.05 }, accel: 'tcg' as const, runPair: noisy };
    const free = await runPerfGate(base);
    expect(free.samples.baseline.tcp_rr_cost_per_trans.length).toBeGreaterThan(5);
    expect(free.budgetSpent).toBe(false);
    noisyCalls = 0;
    const capped = await runPerfGate({ ...base, budgetMs: 0 });
    expect(capped.samples.baseline.tcp_rr_cost_per_trans).toHaveLength(5);
    expect(capped.budgetSpent).toBe(true);
    expect(capped.status).toBe('warning');
    expect(capped.summary).toMatch(/^5\+5 boots: .*\(wall budget of 0 s spent: no further look\)$/);

    // a budget that runs out inside a look: the look stops after that boot round, not at its planned size
    let clock = 0;
    const timed = async (o: PairOptions): Promise<PairResult> => {
      clock += 1000; // each boot takes a second
      return noisy(o);
    };
    noisyCalls = 0;
    const midLook = await runPerfGate({ ...base, runPair: timed, now: () => clock, budgetMs: 13_000 });
    // look 1: 5 rounds of 2 boots (10 s); then rounds 6 (12 s) and 7 (14 s, spent) of the look at 8
    expect(midLook.samples.baseline.tcp_rr_cost_per_trans).toHaveLength(7);
    expect(midLook.budgetSpent).toBe(true);
    expect(midLook.status).toBe(capped.status);
    expect(midLook.summary).toMatch(/^5\+5 boots: .*\(wall budget of 13 s spent during the look at 8 boots per side: stopped at 7, the verdict is the look at 5's\)$/);
  });
});
