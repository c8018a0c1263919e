// What is still running: the sandbox tests check that a killed build leaves no process behind.
import { readdirSync, readFileSync } from 'node:fs';

/** The pids of the processes whose command line contains MARKER. */
export function processesMatching(marker: string): number[] {
  const pids: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(marker)) pids.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return pids;
}
