// The configuration file's schema (shared/docs/contract.md lists the keys others rely on).
import { z } from 'zod';
import { headsSettingsSchema } from '../heads/settings.js';

const secret = z.string().describe('a literal value, or env:NAME to read it from the environment');

/** A duration: seconds as a number, or `90s`, `5m`, `24h`, `2d`. */
const duration = z.union([z.number().positive(), z.string().regex(/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/)]);
/** Every source: its poll interval and the silence after which it is reported quiet (ingest sources). */
const sourceCommon = { name: z.string(), interval: duration.optional(), quiet_after: duration.optional() };

export const sourceSchema = z.discriminatedUnion('type', [
  z.object({ ...sourceCommon, type: z.literal('public-inbox-git'), path: z.string().optional(), url: z.string().optional(), list: z.string().optional() }),
  z.object({ ...sourceCommon, type: z.literal('public-inbox-http'), url: z.string().url(), list: z.string().optional(), interval: duration.default(300), catch_up: z.enum(['none', 'git']).default('none') }),
  z.object({ ...sourceCommon, type: z.literal('imap'), url: z.string(), password: secret.optional(), list: z.string().optional() }),
  z.object({ ...sourceCommon, type: z.literal('patchwork'), url: z.string().url(), project: z.string(), token: secret.optional(), since: z.string().optional() }),
  z.object({ ...sourceCommon, type: z.literal('github'), repos: z.array(z.string()).default([]) }),
  z.object({ ...sourceCommon, type: z.literal('mbox'), path: z.string(), list: z.string().optional() }),
  z.object({ ...sourceCommon, type: z.literal('maildir'), path: z.string(), list: z.string().optional() }),
]);
export type SourceSettings = z.infer<typeof sourceSchema>;

export const treeRefSchema = z.object({
  name: z.string(),
  url: z.string(),
  branch: z.string().default('master'),
  tokens: z.array(z.string()).default([]),
  lists: z.array(z.string()).default([]),
}).passthrough();

/** When to reply: `failure` = on failure and conflict only. */
const replyOn = z.enum(['failure', 'always', 'never']);
/** Quiet hours: replies queued in the window wait for its end (HH:MM, local to tz; may wrap midnight). */
const quietHours = z.object({
  start: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/),
  end: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/),
  tz: z.string().default('UTC'),
});
/** Replies queued per window, to one list and to one submitter; 0 = no limit. */
const rateLimit = z.object({
  per_list: z.number().int().nonnegative().default(30),
  per_submitter: z.number().int().nonnegative().default(5),
  window_minutes: z.number().positive().default(60),
});
/**
 * Where the list's mail is archived, to check whether a reply whose SMTP outcome is unknown (the sender died
 * between handing the message over and recording the answer) reached the list before sending it again:
 * GET `<url>/<message-id>/raw` (public-inbox's URL shape: 200 = archived, 404 = not). A reply still absent
 * `grace` after it was handed over is sent again with the same Message-ID. Without it: never resent.
 */
const replyArchive = z.object({
  url: z.string().url(),
  grace: duration.default('30m'),
  /** between lookups while the grace runs, and after a failed lookup */
  recheck: duration.default('2m'),
});
/** Per-list overrides of the reply policy, keyed by the list address. */
const listPolicy = z.object({
  archive: replyArchive.optional(),
  on: replyOn.optional(),
  cc_list: z.boolean().optional(),
  quiet_hours: quietHours.nullable().optional(),
  rate_limit: rateLimit.partial().optional(),
});
export const replySchema = z.object({
  mode: z.enum(['dry-run', 'send']).default('dry-run'),
  /** lists where sending is enabled (with mode: send); every other list gets dry-run rows */
  lists: z.array(z.string()).default([]),
  on: replyOn.default('failure'),
  cc_list: z.boolean().default(false),
  quiet_hours: quietHours.optional(),
  rate_limit: rateLimit.prefault({}),
  /** more bot senders never to answer (addresses, `*` wildcards) */
  bots: z.array(z.string()).default([]),
  dashboard_url: z.string().optional(),
  per_list: z.record(z.string(), listPolicy).default({}),
}).passthrough().prefault({});
export type ReplySettings = z.infer<typeof replySchema>;

/**
 * Commands by mail (`patchgate: retest` on a line of its own in a reply to a series): who may give them.
 * `maintainers` may command any series; `trees.<name>` only series on that tree (src/report/commands.ts).
 */
export const commandsSchema = z.object({
  enabled: z.boolean().default(true),
  maintainers: z.array(z.string()).default([]),
  trees: z.record(z.string(), z.array(z.string())).default({}),
  /** refuse a command whose Return-Path / Sender / Authentication-Results contradict From */
  verify_sender: z.boolean().default(true),
  /** the same commands as pull request comments: GitHub logins allowed, and the author associations allowed */
  github_users: z.array(z.string()).default([]),
  github_associations: z.array(z.string()).default(['OWNER', 'MEMBER', 'COLLABORATOR']),
}).prefault({});
export type CommandsSettings = z.infer<typeof commandsSchema>;

export const settingsSchema = z.object({
  store: z.object({ path: z.string().default('var/patchgate.sqlite') }).default({ path: 'var/patchgate.sqlite' }),
  redis: z.object({ url: z.string().default('redis://127.0.0.1:6379'), prefix: z.string().default('patchgate') })
    .default({ url: 'redis://127.0.0.1:6379', prefix: 'patchgate' }),
  sources: z.array(sourceSchema).default([]),
  trees: z.array(treeRefSchema).default([]),
  trees_file: z.string().optional(),
  smtp: z.object({ url: z.string().default('smtp://127.0.0.1:2525'), from: z.string().default('patchgate <patchgate@localhost>') })
    .default({ url: 'smtp://127.0.0.1:2525', from: 'patchgate <patchgate@localhost>' }),
  reply: replySchema,
  commands: commandsSchema,
  web: z.object({ listen: z.string().default('127.0.0.1:8080'), token: secret.optional() }).default({ listen: '127.0.0.1:8080' }),
  github: z.object({
    app_id: z.union([z.number(), z.string()]).optional(),
    private_key: secret.optional(),
    webhook_secret: secret.optional(),
    api_url: z.string().default('https://api.github.com'),
  }).optional(),
  work_dir: z.string().default('var/work'),
  mail: z.object({ max_bytes: z.number().int().positive().default(20 * 1024 * 1024) }).default({ max_bytes: 20 * 1024 * 1024 }),
  /** scheduled HEAD runs, history, bisection (src/heads/settings.ts) */
  heads: headsSettingsSchema.optional(),
}).passthrough();

export type Settings = z.infer<typeof settingsSchema>;
