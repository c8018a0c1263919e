// The gate registry: an explicit Map of gates, and runGates() which runs those that apply with their
// settings from the configuration's `gates:` section (`gates: { checkpatch: { enabled: false } }`).
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { SandboxUnavailableError } from '../build/sandbox.js';
import { checkpatchGate } from './checkpatch/index.js';
import { fixesGate } from './fixes/index.js';
import { maintainersCcGate } from './maintainers-cc/index.js';
import { seriesFormatGate } from './series-format/index.js';
import { signoffGate } from './signoff/index.js';
import type { Gate, GateContext, GateOutcome } from './types.js';

export { combineGateStatus, gateWorkDir } from './util.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const gates = new Map<string, Gate<any>>();

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function registerGate(gate: Gate<any>): void {
  gates.set(gate.id, gate);
}

for (const g of [checkpatchGate, signoffGate, fixesGate, seriesFormatGate, maintainersCcGate]) registerGate(g);

export interface RunGatesOptions {
  /** the configuration's `gates:` section: per gate id, its settings (`enabled: false` turns one off) */
  settings?: Record<string, unknown>;
  /** only these gate ids */
  only?: string[];
  registry?: Map<string, Gate<unknown>>;
}

/**
 * Runs every registered gate that is enabled and applies, in registration order. A gate that throws
 * is reported as skipped with the reason (the others still run); a missing sandbox is rethrown.
 */
export async function runGates(ctx: GateContext, opts: RunGatesOptions = {}): Promise<GateOutcome[]> {
  const registry = opts.registry ?? gates;
  const out: GateOutcome[] = [];
  for (const gate of registry.values()) {
    if (opts.only && !opts.only.includes(gate.id)) continue;
    const raw = (opts.settings?.[gate.id] ?? {}) as Record<string, unknown>;
    if (raw.enabled === false) continue;
    if (!gate.appliesTo(ctx)) {
      out.push({ id: gate.id, status: 'skipped', summary: `${gate.id}: does not apply`, details: [] });
      continue;
    }
    const { enabled: _enabled, ...rest } = raw;
    const settings = gate.settingsSchema.parse(rest);
    const workDir = path.join(ctx.workDir, gate.id);
    await mkdir(workDir, { recursive: true });
    await chmod(workDir, 0o755);
    try {
      const r = await gate.run({ ...ctx, workDir, log: ctx.log.child({ gate: gate.id }) }, settings);
      out.push({ id: gate.id, ...r });
    } catch (err) {
      if (err instanceof SandboxUnavailableError) throw err;
      ctx.log.error({ err, gate: gate.id }, 'gate crashed');
      out.push({ id: gate.id, status: 'skipped', summary: `${gate.id}: could not run (${(err as Error).message.split('\n')[0]})`, details: [] });
    }
  }
  return out;
}

