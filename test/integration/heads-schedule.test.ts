// Schedules of HEAD runs on real Redis: `patchgate heads schedule` in a separate process writes the job
// schedulers and exits; a fresh connection still finds them (they live in Redis, not in a process), a worker
// started afterwards runs the due one, a manual trigger runs at once, and a tree dropped from the config
// loses its schedule.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Job } from 'bullmq';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headsQueue, listSchedules, startHeadsWorker, syncSchedules, triggerHeadRun, type HeadJobData } from '../../src/heads/schedule.js';
import { headsSettingsSchema } from '../../src/heads/settings.js';
import { cleanPrefix, ensureRedis, uniquePrefix } from '../helpers/redis.js';

const run = promisify(execFile);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('HEAD run schedules in Redis', () => {
  let url: string;
  let prefix: string;
  let dir: string;
  let config: string;

  beforeAll(async () => {
    url = await ensureRedis();
    prefix = uniquePrefix('heads');
    dir = mkdtempSync(path.join(os.tmpdir(), 'pg-heads-schedule-'));
    config = path.join(dir, 'patchgate.yaml');
    writeFileSync(config, YAML.stringify({
      store: { path: path.join(dir, 'store.sqlite') },
      redis: { url, prefix },
      heads: { trees: [{ tree: 'net-next' }, { tree: 'kvm', schedule: '*/2 * * * * *' }, { tree: 'off', enabled: false }] },
    }));
  });

  afterAll(async () => {
    await cleanPrefix(url, prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('survives the process that made it: the schedules are repeatable jobs in Redis', async () => {
    const code = `import { main } from './src/cli.ts'; process.exitCode = await main(['heads', 'schedule', '--config', ${JSON.stringify(config)}, '--json']);`;
    const r = await run('node', ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: repoRoot, timeout: 60_000 });
    const printed = JSON.parse(r.stdout) as { tree: string; pattern: string }[];
    expect(printed.map((s) => [s.tree, s.pattern]).sort()).toEqual([['kvm', '*/2 * * * * *'], ['net-next', '0 3 * * 1']]);

    // that process is gone: a new connection finds the schedules
    const q = headsQueue(url, prefix);
    try {
      const list = await listSchedules(q);
      expect(list.map((s) => s.tree).sort()).toEqual(['kvm', 'net-next']);
      const weekly = list.find((s) => s.tree === 'net-next')!;
      const next = new Date(weekly.next!);
      expect(next.getUTCDay()).toBe(1); // Monday
      expect(next.getUTCHours()).toBe(3);
      expect(next.getTime()).toBeGreaterThan(Date.now());
      expect(next.getTime() - Date.now()).toBeLessThanOrEqual(7 * 24 * 3600 * 1000);

      // a worker started now runs the due repeatable job, and a manual trigger
      const seen: HeadJobData[] = [];
      const w = startHeadsWorker(url, prefix, async (job: Job<HeadJobData>) => {
        seen.push(job.data);
        return { ok: true };
      });
      try {
        await triggerHeadRun(q, 'net-next', 'cli');
        const t0 = Date.now();
        while (Date.now() - t0 < 15_000 && !(seen.some((d) => d.tree === 'kvm' && d.trigger === 'schedule') && seen.some((d) => d.trigger === 'cli'))) {
          await new Promise((res) => setTimeout(res, 100));
        }
      } finally {
        await w.close();
      }
      expect(seen).toContainEqual({ tree: 'kvm', trigger: 'schedule' });
      expect(seen).toContainEqual({ tree: 'net-next', trigger: 'cli' });

      // a tree dropped from the configuration loses its schedule
      const res = await syncSchedules(q, headsSettingsSchema.parse({ trees: [{ tree: 'net-next' }] }));
      expect(res).toEqual({ upserted: ['net-next'], removed: ['kvm'] });
      expect((await listSchedules(q)).map((s) => s.tree)).toEqual(['net-next']);
    } finally {
      await q.close();
    }
  }, 90_000);
});
