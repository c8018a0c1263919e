// The configuration file's schema (shared/docs/contract.md lists the keys others rely on).
import { z } from 'zod';

const secret = z.string().describe('a literal value, or env:NAME to read it from the environment');

export const sourceSchema = z.discriminatedUnion('type', [
  z.object({ name: z.string(), type: z.literal('public-inbox-git'), path: z.string().optional(), url: z.string().optional(), list: z.string().optional() }),
  z.object({ name: z.string(), type: z.literal('public-inbox-http'), url: z.string().url(), list: z.string().optional(), interval: z.number().positive().default(300) }),
  z.object({ name: z.string(), type: z.literal('imap'), url: z.string(), password: secret.optional(), list: z.string().optional() }),
  z.object({ name: z.string(), type: z.literal('patchwork'), url: z.string().url(), project: z.string(), token: secret.optional() }),
  z.object({ name: z.string(), type: z.literal('github'), repos: z.array(z.string()).default([]) }),
  z.object({ name: z.string(), type: z.literal('mbox'), path: z.string(), list: z.string().optional() }),
  z.object({ name: z.string(), type: z.literal('maildir'), path: z.string(), list: z.string().optional() }),
]);
export type SourceSettings = z.infer<typeof sourceSchema>;

export const treeRefSchema = z.object({
  name: z.string(),
  url: z.string(),
  branch: z.string().default('master'),
  tokens: z.array(z.string()).default([]),
  lists: z.array(z.string()).default([]),
}).passthrough();

export const settingsSchema = z.object({
  store: z.object({ path: z.string().default('var/patchgate.sqlite') }).default({ path: 'var/patchgate.sqlite' }),
  redis: z.object({ url: z.string().default('redis://127.0.0.1:6379'), prefix: z.string().default('patchgate') })
    .default({ url: 'redis://127.0.0.1:6379', prefix: 'patchgate' }),
  sources: z.array(sourceSchema).default([]),
  trees: z.array(treeRefSchema).default([]),
  trees_file: z.string().optional(),
  smtp: z.object({ url: z.string().default('smtp://127.0.0.1:2525'), from: z.string().default('patchgate <patchgate@localhost>') })
    .default({ url: 'smtp://127.0.0.1:2525', from: 'patchgate <patchgate@localhost>' }),
  reply: z.object({
    mode: z.enum(['dry-run', 'send']).default('dry-run'),
    lists: z.array(z.string()).default([]),
  }).passthrough().default({ mode: 'dry-run', lists: [] }),
  web: z.object({ listen: z.string().default('127.0.0.1:8080') }).default({ listen: '127.0.0.1:8080' }),
  github: z.object({
    app_id: z.union([z.number(), z.string()]).optional(),
    private_key: secret.optional(),
    webhook_secret: secret.optional(),
    api_url: z.string().default('https://api.github.com'),
  }).optional(),
  work_dir: z.string().default('var/work'),
  mail: z.object({ max_bytes: z.number().int().positive().default(20 * 1024 * 1024) }).default({ max_bytes: 20 * 1024 * 1024 }),
}).passthrough();

export type Settings = z.infer<typeof settingsSchema>;
