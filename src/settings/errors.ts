// The configuration's error, apart from the loader (yaml, zod) so that the command line can test for it
// without loading them.
export class SettingsError extends Error {
  constructor(public readonly file: string, public readonly problems: string[]) {
    super(`${file}: invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'SettingsError';
  }
}
