// The `gates.perf` section of the configuration: cells, rules per metric, the sequential plan.
import { z } from 'zod';

const ruleSchema = z.object({
  direction: z.enum(['lower-is-better', 'higher-is-better']).default('lower-is-better'),
  /** relative change that matters, e.g. 0.005 = 0.5% */
  threshold: z.number().positive().default(0.005),
  require: z.enum(['not-regress', 'improve']).default('not-regress'),
});

const cellSchema = z.object({
  id: z.string().regex(/^[a-z0-9_]+$/),
  test: z.enum(['TCP_RR', 'TCP_CRR', 'TCP_STREAM', 'UDP_RR']),
  transactions: z.number().int().positive().default(4000),
  size: z.string().optional(),
  msg: z.number().int().positive().optional(),
  rule: ruleSchema.default({ direction: 'lower-is-better', threshold: 0.005, require: 'not-regress' }),
});

export const perfSettingsSchema = z.object({
  enabled: z.boolean().default(true),
  /** auto: KVM when a guest boots under it in time, else TCG with -icount */
  accel: z.enum(['auto', 'tcg', 'kvm']).default('auto'),
  /** the build configuration whose base and head images are booted */
  config: z.string().default('kvm-guest'),
  cells: z.array(cellSchema).default([
    { id: 'tcp_rr', test: 'TCP_RR', transactions: 4000, rule: { direction: 'lower-is-better', threshold: 0.003, require: 'not-regress' } },
    { id: 'tcp_stream', test: 'TCP_STREAM', transactions: 4000, rule: { direction: 'lower-is-better', threshold: 0.01, require: 'not-regress' } },
  ]),
  looks: z.array(z.number().int().min(3)).default([5, 8, 12]),
  alpha: z.number().positive().max(0.5).default(0.05),
});
export type PerfSettings = z.infer<typeof perfSettingsSchema>;

export function perfSettingsFrom(settings: Record<string, unknown>): PerfSettings {
  const gates = (settings.gates ?? {}) as Record<string, unknown>;
  return perfSettingsSchema.parse(gates.perf ?? {});
}
