// The `heads:` section of the configuration: scheduled runs of the perf matrix on each tree's HEAD,
// change detection between consecutive runs, and bisection of a detected change.
//
//   heads:
//     work_dir: var/heads          # checkouts (trees/<tree>), warm build dirs (build/), boot logs (perf/)
//     boots: 5                     # boots per HEAD run (samples per metric)
//     step_boots: 4                # boots per bisection step
//     max_retries: 2               # extra rounds of step_boots for a step whose effect is unclear
//     config: kvm-guest            # the build configuration (build.configs) whose image is booted
//     cells: [tcp_rr]              # ids of gates.perf.cells measured on HEAD
//     trees:
//       - tree: net-next           # a tree of the tree registry
//         schedule: "0 3 * * 1"    # cron (default weekly: Monday 03:00)
//         github:                  # optional: each bisection also as a comment on the tree's tracking issue
//           repo: owner/name
//           issue: 42              # the tracking issue (default: patchgate opens one, labelled `label`)
import { z } from 'zod';

export const DEFAULT_SCHEDULE = '0 3 * * 1';

export const headTreeSchema = z.object({
  tree: z.string().min(1),
  /** cron syntax (five fields, or six with seconds first) */
  schedule: z.string().regex(/^\s*\S+(\s+\S+){4,5}\s*$/, 'cron syntax: five or six fields').default(DEFAULT_SCHEDULE),
  tz: z.string().optional(),
  enabled: z.boolean().default(true),
  /** start a bisection when a change is detected */
  bisect: z.boolean().default(true),
  /** report each bisection as a comment on a GitHub issue of this repository (through the GitHub App, github:) */
  github: z.object({
    repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'owner/name'),
    issue: z.number().int().positive().optional(),
    label: z.string().min(1).default('patchgate-heads'),
  }).optional(),
});
export type HeadTree = z.infer<typeof headTreeSchema>;

export const headsSettingsSchema = z.object({
  work_dir: z.string().default('var/heads'),
  boots: z.number().int().min(3).default(5),
  step_boots: z.number().int().min(3).default(4),
  max_retries: z.number().int().min(0).default(2),
  config: z.string().default('kvm-guest'),
  cells: z.array(z.string()).default(['tcp_rr']),
  /** family-wise false-alarm level of change detection over the metrics of one run */
  alpha: z.number().positive().max(0.5).default(0.05),
  trees: z.array(headTreeSchema).default([]),
}).prefault({});
export type HeadsSettings = z.infer<typeof headsSettingsSchema>;

/** `settings.heads`, validated. */
export function headsSettingsFrom(settings: Record<string, unknown>): HeadsSettings {
  return headsSettingsSchema.parse(settings.heads ?? {});
}
