// One cgroup per sandboxed build: all the build's processes together get at most so much memory and so many
// processes. The sandbox's prlimit bounds each process alone (N processes could each take the per-process
// limit). cgroup v1 (the memory and pids hierarchies, as on this development host) or v2 (the unified
// hierarchy with the memory and pids controllers, as on a current Debian); where neither can be set up the
// build runs with the per-process limits only, and the log says why. Only v1 is exercised by the tests here:
// this host has no v2 memory controller.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface BuildCgroupLimits {
  memoryMb: number;
  pids: number;
}

export interface BuildCgroupUsage {
  /**
   * processes the kernel's OOM killer ended in the build at its memory limit (reaching the limit alone says
   * little: the page cache of the files a build writes is charged to it too, and reclaimed)
   */
  oomKills: number;
  /** a fork failed at the process limit */
  pidsLimitHit: boolean;
  /** the most memory the build used, MiB (null when the kernel does not say) */
  peakMemoryMb: number | null;
}

export interface BuildCgroup {
  version: 1 | 2;
  /** the cgroup.procs files the build's first process writes its pid into before anything else runs */
  procs: string[];
  usage(): BuildCgroupUsage;
  /** kills whatever is left in the cgroup and removes it */
  remove(): void;
}

const MB = 1024 * 1024;

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** A `key value` line of a cgroup stat file (memory.events, pids.events, memory.oom_control). */
function statValue(text: string, key: string): number {
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

function killAndRemove(dirs: string[]): void {
  for (const dir of dirs) {
    for (let attempt = 0; attempt < 20; attempt++) {
      for (const pid of read(path.join(dir, 'cgroup.procs')).split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      try {
        rmdirSync(dir);
        break;
      } catch {
        // processes still exiting: a short wait (synchronous: this runs once per build, after it)
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);
      }
    }
  }
}

function v1(root: string, name: string, limits: BuildCgroupLimits): BuildCgroup | null {
  const memRoot = path.join(root, 'memory');
  const pidsRoot = path.join(root, 'pids');
  if (!existsSync(path.join(memRoot, 'memory.limit_in_bytes')) || !existsSync(path.join(pidsRoot, 'cgroup.procs'))) return null;
  const mem = path.join(memRoot, 'patchgate', name);
  const pids = path.join(pidsRoot, 'patchgate', name);
  mkdirSync(mem, { recursive: true });
  mkdirSync(pids, { recursive: true });
  try {
    writeFileSync(path.join(mem, 'memory.limit_in_bytes'), String(limits.memoryMb * MB));
    // no swapping past the limit either, where swap is accounted
    if (existsSync(path.join(mem, 'memory.memsw.limit_in_bytes'))) writeFileSync(path.join(mem, 'memory.memsw.limit_in_bytes'), String(limits.memoryMb * MB));
    writeFileSync(path.join(pids, 'pids.max'), String(limits.pids));
  } catch (err) {
    killAndRemove([mem, pids]);
    throw err;
  }
  return {
    version: 1,
    procs: [path.join(mem, 'cgroup.procs'), path.join(pids, 'cgroup.procs')],
    usage() {
      const peak = Number(read(path.join(mem, 'memory.max_usage_in_bytes')).trim());
      return {
        oomKills: statValue(read(path.join(mem, 'memory.oom_control')), 'oom_kill'),
        pidsLimitHit: statValue(read(path.join(pids, 'pids.events')), 'max') > 0,
        peakMemoryMb: Number.isFinite(peak) && peak > 0 ? Math.round(peak / MB) : null,
      };
    },
    remove: () => killAndRemove([mem, pids]),
  };
}

function v2(root: string, name: string, limits: BuildCgroupLimits): BuildCgroup | null {
  const controllers = read(path.join(root, 'cgroup.controllers')).split(/\s+/);
  if (!controllers.includes('memory') || !controllers.includes('pids')) return null;
  const parent = path.join(root, 'patchgate');
  mkdirSync(parent, { recursive: true });
  // the controllers reach a child only when each parent hands them down
  for (const dir of [root, parent]) {
    const on = read(path.join(dir, 'cgroup.subtree_control')).split(/\s+/);
    if (!on.includes('memory') || !on.includes('pids')) writeFileSync(path.join(dir, 'cgroup.subtree_control'), '+memory +pids');
  }
  const dir = path.join(parent, name);
  mkdirSync(dir);
  try {
    writeFileSync(path.join(dir, 'memory.max'), String(limits.memoryMb * MB));
    if (existsSync(path.join(dir, 'memory.swap.max'))) writeFileSync(path.join(dir, 'memory.swap.max'), '0');
    writeFileSync(path.join(dir, 'pids.max'), String(limits.pids));
  } catch (err) {
    killAndRemove([dir]);
    throw err;
  }
  return {
    version: 2,
    procs: [path.join(dir, 'cgroup.procs')],
    usage() {
      const events = read(path.join(dir, 'memory.events'));
      const peak = Number(read(path.join(dir, 'memory.peak')).trim());
      return {
        oomKills: statValue(events, 'oom_kill'),
        pidsLimitHit: statValue(read(path.join(dir, 'pids.events')), 'max') > 0,
        peakMemoryMb: Number.isFinite(peak) && peak > 0 ? Math.round(peak / MB) : null,
      };
    },
    remove: () => killAndRemove([dir]),
  };
}

let swept = false;

/**
 * Removes the build cgroups (`b<pid>-<n>`) a bot process left when it died: those whose process is gone and
 * that hold no process any more.
 */
export function sweepBuildCgroups(root = '/sys/fs/cgroup'): string[] {
  const removed: string[] = [];
  for (const parent of [path.join(root, 'patchgate'), path.join(root, 'memory/patchgate'), path.join(root, 'pids/patchgate')]) {
    let names: string[];
    try {
      names = readdirSync(parent);
    } catch {
      continue;
    }
    for (const name of names) {
      const m = /^b(\d+)-\d+$/.exec(name);
      if (!m) continue;
      try {
        process.kill(Number(m[1]), 0);
        continue; // its bot process still runs
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') continue;
      }
      try {
        rmdirSync(path.join(parent, name));
        removed.push(path.join(parent, name));
      } catch {
        /* still holds a process */
      }
    }
  }
  return removed;
}

/**
 * A cgroup named NAME with LIMITS, or null where this host has no usable cgroup memory and pids controllers.
 * Throws when one exists but cannot be set up (the caller logs it and goes on without). The first call of a
 * process also sweeps away what earlier, dead bot processes left (sweepBuildCgroups).
 */
export function createBuildCgroup(name: string, limits: BuildCgroupLimits, root = '/sys/fs/cgroup'): BuildCgroup | null {
  if (!swept) {
    swept = true;
    sweepBuildCgroups(root);
  }
  return v2(root, name, limits) ?? v1(root, name, limits);
}
