// Runs sender-child.ts (one outbox delivery pass) as its own process, optionally SIGKILLed after a delay: the
// crash tests' way of killing the report sender at a point of their choosing.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const child = path.join(here, 'sender-child.ts');
const repoRoot = path.resolve(here, '..', '..', '..', '..');

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
}

/**
 * One sender pass over the store at DBPATH to SMTPURL. CRASHAT names a hook point where the child kills itself
 * (`none`: it runs to the end); KILLAFTERMS kills it from outside after that long; REPLY, when given, is the
 * reply configuration (archive lookups) the child sends with.
 */
export function runSender(dbPath: string, smtpUrl: string, crashAt = 'none', killAfterMs?: number, reply?: unknown): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, PATCHGATE_LOG_LEVEL: 'silent' };
    if (reply !== undefined) env.PATCHGATE_TEST_REPLY = JSON.stringify(reply);
    const p = spawn(process.execPath, ['--import', 'tsx', child, dbPath, smtpUrl, crashAt], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', () => {});
    const timer = killAfterMs === undefined ? null : setTimeout(() => p.kill('SIGKILL'), killAfterMs);
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stdout });
    });
  });
}
