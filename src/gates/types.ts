// Gates: static and dynamic checks of a series, each a plugin in the registry (registry.ts) with
// `{ id, appliesTo, settingsSchema, run }` returning `{ status, summary, details }`. Outcomes are data:
// a patch that fails a check is a `failure` result; only infrastructure faults throw.
import type { z } from 'zod';
import type { Logger } from '../log.js';
import type { Person } from '../mail/types.js';
import type { CollectedTrailer } from '../series/types.js';
import type { SandboxSettings } from '../build/sandbox.js';

export type GateStatus = 'success' | 'warning' | 'failure' | 'skipped' | 'pending';

export interface GateDetail {
  /** the patch (or cover letter) this line is about; absent for series-wide findings */
  msgid?: string;
  status: GateStatus;
  message: string;
}

export interface GateResult {
  status: GateStatus;
  /** one line */
  summary: string;
  details: GateDetail[];
  metrics?: Record<string, unknown>;
}

export interface GatePatch {
  msgid: string;
  number: number;
  /** subject without prefixes */
  name: string;
  author: Person;
  /** the patch mail as received (RFC 822 text), when the pipeline has it */
  mbox: string | null;
  /** the commit the patch became in the checkout, when applied */
  commit: string | null;
  files: string[];
  /** the series document's trailers (the patch's own have `from` = its msgid) */
  trailers: CollectedTrailer[];
}

export interface GateTree {
  name: string;
  /** the checkout with the series applied, or null when the series did not apply */
  dir: string | null;
  /** mailing lists the tree takes patches on (lower-case) */
  lists: string[];
}

export interface GateContext {
  seriesId: string;
  version: number;
  series: {
    name: string | null;
    total: number;
    received_all: boolean;
    /** msgid of the cover letter, or null */
    cover: string | null;
    submitter: Person;
    tags: string[];
  };
  patches: GatePatch[];
  tree: GateTree | null;
  /** scratch space for this gate run (created by the caller, readable by the sandbox user) */
  workDir: string;
  sandbox: SandboxSettings;
  signal?: AbortSignal;
  log: Logger;
}

export interface Gate<S = unknown> {
  id: string;
  description: string;
  /** parses the gate's section of `gates:` in the configuration (`{}` when absent) */
  settingsSchema: z.ZodType<S>;
  appliesTo(ctx: GateContext): boolean;
  run(ctx: GateContext, settings: S): Promise<GateResult>;
}

export interface GateOutcome extends GateResult {
  id: string;
}
