// The `build:` section of the configuration file (parsed here; the main schema passes it through).
import os from 'node:os';
import { z } from 'zod';
import type { Settings } from '../settings/schema.js';
import { sandboxSettingsSchema } from './sandbox.js';

export const buildConfigSchema = z.object({
  /** names the out dir and the report line, e.g. `kvm-guest` */
  name: z.string().regex(/^[A-Za-z0-9._-]+$/),
  base: z.enum(['tinyconfig', 'defconfig', 'allmodconfig', 'allnoconfig']).default('tinyconfig'),
  /** names in config/kconfig/ (without .config) or paths */
  fragments: z.array(z.string()).default([]),
  /** build every patch of the series in order (bisectability); false builds only the series head */
  per_patch: z.boolean().default(true),
  /** make targets; empty is the default target */
  targets: z.array(z.string()).default([]),
  /** a missing fragment option fails the build instead of being reported */
  strict_config: z.boolean().default(false),
});
export type BuildConfig = z.infer<typeof buildConfigSchema>;

export const buildSettingsSchema = z.object({
  /** out dirs, ccache and per-worker state live below this fixed path */
  work_dir: z.string().default('var/build'),
  /** logs and .config of each build are kept here */
  artifacts_dir: z.string().default('var/artifacts'),
  /** parallel make jobs; default: the machine's cores */
  jobs: z.number().int().positive().optional(),
  ccache: z.boolean().default(true),
  /** nice level of make */
  nice: z.number().int().min(0).max(19).default(0),
  /** wall-clock limit of one make run, seconds */
  timeout_s: z.number().int().positive().default(3600),
  /** a warning whose line the patch rewrote still matches one this many lines away */
  line_tolerance: z.number().int().nonnegative().default(10),
  configs: z.array(buildConfigSchema).default([{ name: 'kvm-guest', base: 'tinyconfig', fragments: ['kvm-guest', 'perf-guest'], per_patch: true, targets: [], strict_config: false }]),
  sandbox: sandboxSettingsSchema.default(sandboxSettingsSchema.parse({})),
});
export type BuildSettings = z.infer<typeof buildSettingsSchema>;

/** `settings.build`, validated (the main schema keeps unknown sections as they are). */
export function buildSettingsFrom(settings: Settings | Record<string, unknown>): BuildSettings {
  return buildSettingsSchema.parse((settings as Record<string, unknown>).build ?? {});
}

export function defaultJobs(settings: BuildSettings): number {
  return settings.jobs ?? (typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}
