// Kconfig fragments: where they live, what they ask for, and whether the final .config kept it.
// merge_config.sh and olddefconfig silently drop an option whose dependencies are off, so every
// build checks the resulting .config against its fragments and reports what went missing.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** config/kconfig/ of this repository. */
/** config/kconfig of the repository: two levels up from src/build/, three from dist/src/build/ (the compiled CLI). */
export const FRAGMENT_DIR = ((): string => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '..', '..', 'config', 'kconfig'), path.resolve(here, '..', '..', '..', 'config', 'kconfig')];
  return candidates.find((d) => existsSync(d)) ?? candidates[0];
})();

/** A fragment name (`kvm-guest`) is config/kconfig/kvm-guest.config; a path is taken as is. */
export function fragmentPath(nameOrPath: string): string {
  if (nameOrPath.includes('/')) return path.resolve(nameOrPath);
  const file = path.join(FRAGMENT_DIR, nameOrPath.endsWith('.config') ? nameOrPath : `${nameOrPath}.config`);
  if (!existsSync(file)) throw new Error(`kconfig fragment not found: ${file}`);
  return file;
}

/** `CONFIG_X=value` lines and `# CONFIG_X is not set` (value `n`), by symbol name (with CONFIG_). */
export function parseKconfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    let m = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (m) {
      out.set(m[1], m[2]);
      continue;
    }
    m = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line);
    if (m) out.set(m[1], 'n');
  }
  return out;
}

export interface ConfigMismatch {
  option: string;
  wanted: string;
  /** the value in the final .config, `n` when absent */
  got: string;
  fragment: string;
}

/** Options the fragments ask for that the final .config does not have as asked. */
export function checkFragments(finalConfig: string, fragments: { name: string; text: string }[]): ConfigMismatch[] {
  const final = parseKconfig(finalConfig);
  const wanted = new Map<string, { value: string; fragment: string }>();
  for (const f of fragments) for (const [k, v] of parseKconfig(f.text)) wanted.set(k, { value: v, fragment: f.name });
  const out: ConfigMismatch[] = [];
  for (const [option, { value, fragment }] of wanted) {
    const got = final.get(option) ?? 'n';
    if (got !== value) out.push({ option, wanted: value, got, fragment });
  }
  return out;
}
