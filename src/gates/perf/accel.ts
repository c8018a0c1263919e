// Which accelerator the perf guests run under: KVM where a guest pair boots and measures in time under it,
// otherwise TCG with -icount (machine-facts.md: nested PVM KVM here crawls; TCG boots a tiny guest in ~2 s).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { runGuestPair } from './guest-runner.js';

export interface AccelChoice {
  accel: 'tcg' | 'kvm';
  reason: string;
}

const cache = new Map<string, AccelChoice>();

export async function probeAccel(kernel: string, initrd: string, workDir: string, timeoutSec = 40): Promise<AccelChoice> {
  const key = `${kernel}:${initrd}`;
  const hit = cache.get(key);
  if (hit) return hit;
  let choice: AccelChoice;
  if (!existsSync('/dev/kvm')) choice = { accel: 'tcg', reason: 'no /dev/kvm on this host: TCG with -icount' };
  else {
    try {
      const r = await runGuestPair({ kernel, initrd, workDir: path.join(workDir, 'accel-probe'), test: 'TCP_RR', transactions: 200, accel: 'kvm', icount: false, timeoutSec });
      choice = r.clients.length > 0
        ? { accel: 'kvm', reason: `KVM booted and measured a guest pair in ${(r.wallMs / 1000).toFixed(1)} s` }
        : { accel: 'tcg', reason: `KVM did not finish a guest pair in ${timeoutSec} s: TCG with -icount` };
    } catch (err) {
      choice = { accel: 'tcg', reason: `KVM probe failed (${(err as Error).message.split('\n')[0].slice(0, 120)}): TCG with -icount` };
    }
  }
  cache.set(key, choice);
  return choice;
}
