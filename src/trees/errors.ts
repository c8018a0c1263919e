// Infrastructure faults of the tree layer. Conflicts are outcomes (see apply.ts), never these.

/** `https://user:secret@host/x` → `https://***@host/x`: URLs with credentials never reach logs or reports. */
export function redactUrl(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, '$1***@');
}

/** A git command failed for a reason that is not the patch's fault (lock held, disk full, missing ref ...). */
export class GitCommandError extends Error {
  constructor(
    readonly dir: string | null,
    readonly args: string[],
    readonly code: number | null,
    readonly stderr: string,
  ) {
    args = args.map(redactUrl);
    stderr = redactUrl(stderr);
    super(redactUrl(`git ${args.join(' ')}${dir ? ` (in ${dir})` : ''} failed${code === null ? '' : ` with exit ${code}`}: ${stderr.trim().split('\n').slice(-3).join(' / ')}`));
    this.name = 'GitCommandError';
  }
}

/** git am broke for a reason outside the patch: the job should be retried, the series is not at fault. */
export class PatchApplyError extends Error {
  constructor(
    /** msgid of the patch being applied */
    readonly patch: string,
    readonly stderr: string,
    readonly baseSha: string,
  ) {
    super(`applying ${patch} on ${baseSha.slice(0, 12)} failed: ${stderr.trim().split('\n').slice(-3).join(' / ')}`);
    this.name = 'PatchApplyError';
  }
}

/** The checkout cannot be prepared: base ref unknown, worktree broken. */
export class CheckoutError extends Error {
  constructor(
    readonly dir: string,
    readonly ref: string | null,
    readonly stderr: string,
  ) {
    super(`checkout ${dir}${ref ? ` at ${ref}` : ''}: ${stderr.trim().split('\n').slice(-3).join(' / ')}`);
    this.name = 'CheckoutError';
  }
}

/** Another holder kept the lock past the wait. */
export class LockTimeoutError extends Error {
  constructor(
    readonly lockFile: string,
    readonly holder: string,
  ) {
    super(`${lockFile} is held by ${holder || 'someone'}`);
    this.name = 'LockTimeoutError';
  }
}
