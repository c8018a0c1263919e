// Loads a YAML config, validates it once with zod and resolves `env:NAME` secrets.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { SettingsError } from './errors.js';
import { settingsSchema, type Settings } from './schema.js';

export { SettingsError };

/** Resolves `env:NAME` to the environment's value (empty string when unset is an error). */
export function resolveSecret(value: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (value === undefined) return undefined;
  const m = /^env:([A-Za-z_][A-Za-z0-9_]*)$/.exec(value);
  if (!m) return value;
  const v = env[m[1]];
  if (v === undefined) throw new Error(`environment variable ${m[1]} is not set`);
  return v;
}

export function parseSettings(data: unknown, file = '<config>', env: NodeJS.ProcessEnv = process.env): Settings {
  const result = settingsSchema.safeParse(data ?? {});
  if (!result.success) {
    throw new SettingsError(file, result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  const s = result.data;
  if (env.REDIS_URL) s.redis.url = env.REDIS_URL;
  return s;
}

/** Reads and validates FILE; relative paths in it stay relative to the current directory (the repository root). */
export function loadSettings(file: string, env: NodeJS.ProcessEnv = process.env): Settings {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SettingsError(file, [`cannot read: ${(err as Error).message}`]);
  }
  let data: unknown;
  try {
    data = YAML.parse(text);
  } catch (err) {
    throw new SettingsError(file, [`not valid YAML: ${(err as Error).message}`]);
  }
  return parseSettings(data, path.normalize(file), env);
}
