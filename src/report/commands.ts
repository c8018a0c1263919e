// Commands by mail: a maintainer's reply in a series thread with a line of its own such as
//
//   patchgate: retest          run the revision again
//   patchgate: perf            run it again, asking for the performance gate
//   patchgate: tree net-next   test it on that tree (an override tree selection honours)
//   patchgate: base <sha>      apply it on that commit
//   patchgate: skip perf       do not run (or report) that gate for it
//   patchgate: superseded      stop testing it
//
// and, in any thread (a reply to a bisection report, too), for a tree rather than a series:
//
//   patchgate: head-run <tree>                          a HEAD run of the tree now
//   patchgate: bisect [<tree>] <good>..<bad> [metric]   bisect a change between two commits of the tree
//                                                       (the tree may be left out in a thread of a series on one tree)
//
// These are accepted from `commands.maintainers` and the named tree's `commands.trees.<tree>` and add a job
// to the heads queue, the schedule's (src/heads/schedule.ts).
//
// Only unquoted lines count. A command is accepted from an address configured under `commands:` (global
// `maintainers`, or `trees.<tree>` for series on that tree) whose mail does not contradict its From
// (Return-Path, Sender, Authentication-Results), and never from patchgate's own mail. Every command line is
// stored in `commands` with the acknowledgement or the refusal's reason (and logged), and the message is
// answered (templates/mail/command.txt, through the outbox, dry-run like the reports); a message is read
// once: ingesting the same reply again does nothing. Accepted commands return actions the pipeline runs
// (executeCommandActions); the overrides they set (series_overrides) are read by tree selection
// (treeOverride) and meant for the apply stage (baseOverride) and the gates (skippedGates).
// The same commands work as pull request comments (githubCommandsApp, a probot app).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ApplicationFunction } from 'probot';
import type { ParsedMessage } from '../mail/types.js';
import { logger, type Logger } from '../log.js';
import type { Series, SeriesDocument } from '../series/types.js';
import type { Settings } from '../settings/schema.js';
import type { Db } from '../store/db.js';
import { loadRaw } from '../store/messages.js';
import { queueRun } from '../store/runs.js';
import { loadTrees } from '../trees/config.js';
import { listIdAddress } from '../trees/select.js';
import { parseAddress, type MailPayload } from './mail.js';
import { botReason, KNOWN_BOTS } from './policy.js';
import { escapeMarkdown, templatesDir } from './render.js';
import { parseTemplate, renderNodes } from './template.js';
import { wrapText } from './wrap.js';

export type CommandName = 'retest' | 'perf' | 'tree' | 'base' | 'skip' | 'superseded' | 'head-run' | 'bisect';

export type CommandAction =
  | { type: 'retest'; seriesId: string; version: number; msgid: string; sender: string; perf: boolean }
  | { type: 'tree'; seriesId: string; version: number; msgid: string; sender: string; tree: string }
  | { type: 'base'; seriesId: string; version: number; msgid: string; sender: string; sha: string }
  | { type: 'skip'; seriesId: string; version: number; msgid: string; sender: string; gate: string }
  | { type: 'superseded'; seriesId: string; version: number; msgid: string; sender: string }
  | { type: 'head-run'; tree: string; msgid: string; line: number; sender: string }
  | { type: 'bisect'; tree: string; good: string; bad: string; metric: string | null; msgid: string; line: number; sender: string };

/** The commands that act on a tree (the heads queue), from any thread. */
const TREE_COMMANDS = new Set(['head-run', 'bisect']);

/** A revision as a mail command may name it: a commit id, tag or branch name, no option, no range. */
const REV = /^[A-Za-z0-9][\w./^~-]{0,99}$/;

export interface CommandRecord {
  msgid: string;
  line: number;
  seriesId: string | null;
  version: number | null;
  sender: string;
  command: string;
  argument: string | null;
  state: 'accepted' | 'refused';
  reason: string;
}

export interface CommandResult {
  /** what the pipeline should do for the accepted commands (executeCommandActions) */
  actions: CommandAction[];
  /** every command line read this time, accepted or refused (also in table `commands`) */
  records: CommandRecord[];
}

export interface ParsedCommand {
  line: number;
  command: string;
  argument: string | null;
}

const COMMAND_LINE = /^patchgate:[ \t]*([A-Za-z][\w-]*)(?:[ \t]+(.*?))?[ \t]*$/i;

/** The command lines of a body: `patchgate: <command> [argument]` at the start of an unquoted line. */
export function parseCommands(body: string): ParsedCommand[] {
  const out: ParsedCommand[] = [];
  body.replace(/\r\n?/g, '\n').split('\n').forEach((text, i) => {
    const trimmed = text.trim();
    if (trimmed.startsWith('>') || /^\|/.test(trimmed)) return; // quoted
    const m = COMMAND_LINE.exec(trimmed);
    if (m) out.push({ line: i + 1, command: m[1].toLowerCase(), argument: m[2]?.trim() || null });
  });
  return out;
}

function lower(a: string): string {
  return a.trim().toLowerCase();
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

/** Header block of a raw message, unfolded: name (lower-case) → values. */
function rawHeaders(raw: Buffer | null): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (!raw) return out;
  const text = raw.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  const head = (end === -1 ? text : text.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
  for (const line of head.split(/\r?\n/)) {
    const m = /^([!-9;-~]+):[ \t]*(.*)$/.exec(line);
    if (!m) continue;
    const name = m[1].toLowerCase();
    out.set(name, [...(out.get(name) ?? []), m[2].trim()]);
  }
  return out;
}

function bareAddress(value: string): string | null {
  const m = /<([^<>]*)>/.exec(value);
  const a = (m ? m[1] : value).trim().toLowerCase();
  return a.includes('@') ? a : null;
}

/**
 * Why the mail's delivery headers contradict its From, or null. A mailing list's own envelope (its domain
 * among the configured lists' or the List-Id's) is accepted: the list delivered the mail.
 */
export function senderMismatch(message: ParsedMessage, raw: Buffer | null, listDomains: Set<string>): string | null {
  const from = lower(message.from.email);
  const fromDomain = domainOf(from);
  const headers = rawHeaders(raw);
  const sameSide = (addr: string) => addr === from || domainOf(addr) === fromDomain || domainOf(addr).endsWith(`.${fromDomain}`)
    || listDomains.has(domainOf(addr));
  for (const ar of headers.get('authentication-results') ?? []) {
    const dmarc = /\bdmarc=(\w+)/i.exec(ar)?.[1]?.toLowerCase();
    if (dmarc === 'fail') return `Authentication-Results: dmarc=fail for ${fromDomain}`;
  }
  const rawFrom = headers.get('from')?.[0];
  const rawFromAddr = rawFrom ? bareAddress(rawFrom) : null;
  // a From the parser restored from a list's munging ("X via List"): the restored address proves nothing
  if (rawFromAddr && rawFromAddr !== from && !listDomains.has(domainOf(rawFromAddr))) {
    return `From header ${rawFromAddr} is not the sender ${from}`;
  }
  const returnPath = headers.get('return-path')?.[0];
  const envelope = returnPath ? bareAddress(returnPath) : null;
  if (returnPath !== undefined && returnPath.trim() === '<>') return 'envelope sender is empty (a bounce)';
  if (envelope && !sameSide(envelope)) return `envelope sender ${envelope} does not match From ${from}`;
  const sender = headers.get('sender')?.[0];
  const senderAddr = sender ? bareAddress(sender) : null;
  if (senderAddr && !sameSide(senderAddr)) return `Sender ${senderAddr} does not match From ${from}`;
  return null;
}

/** patchgate's own mail: its X-Patchgate-* headers or its From address. */
function isOwnMail(message: ParsedMessage, own: string): boolean {
  if (Object.keys(message.headers).some((h) => h.startsWith('x-patchgate-'))) return true;
  return lower(message.from.email) === own;
}

async function treeNames(settings: Settings): Promise<string[]> {
  const names = settings.trees.map((t) => t.name);
  if (settings.trees_file && names.length === 0) {
    try {
      names.push(...(await loadTrees(settings.trees_file)).trees.map((t) => t.name));
    } catch {
      // an unreadable trees file: only the inline trees are known
    }
  }
  return names;
}

function treeLists(settings: Settings): Map<string, string[]> {
  return new Map(settings.trees.map((t) => [t.name, t.lists.map(lower)]));
}

/** The override of KEY for a series, following its earlier revisions (series.previous) when it has none. */
export function seriesOverride(db: Db, seriesId: string, key: string): { value: string; msgid: string; sender: string } | null {
  const get = db.prepare('SELECT value, msgid, sender FROM series_overrides WHERE series_id = ? AND key = ?');
  const doc = db.prepare('SELECT doc FROM series WHERE id = ?').pluck();
  let id: string | null = seriesId;
  for (let i = 0; id && i < 50; i++) {
    const row = get.get(id, key) as { value: string; msgid: string; sender: string } | undefined;
    if (row) return row;
    const json = doc.get(id) as string | undefined;
    id = json ? (JSON.parse(json) as Series).previous : null;
  }
  return null;
}

/** The tree a maintainer's `patchgate: tree X` set for the series (tree selection's override input). */
export function treeOverride(db: Db, seriesId: string): { tree: string; reason: string } | null {
  const o = seriesOverride(db, seriesId, 'tree');
  return o ? { tree: o.value, reason: `${o.value} as ${o.sender} asked (${o.msgid})` } : null;
}

/** The base commit a maintainer's `patchgate: base <sha>` set for the series, if any. */
export function baseOverride(db: Db, seriesId: string): string | null {
  return seriesOverride(db, seriesId, 'base')?.value ?? null;
}

/** Gates a maintainer's `patchgate: skip <gate>` turned off for the series, with the reason to report. */
export function skippedGates(db: Db, seriesId: string): Map<string, string> {
  const out = new Map<string, string>();
  const rows = db.prepare(`SELECT key, sender, msgid FROM series_overrides WHERE series_id = ? AND key LIKE 'skip:%'`)
    .all(seriesId) as { key: string; sender: string; msgid: string }[];
  for (const r of rows) out.set(r.key.slice('skip:'.length), `skipped as ${r.sender} asked (${r.msgid})`);
  return out;
}

/** `<patchgate.cmd.<hash of the command's msgid>@<from domain>>`: one answer per command message, ever. */
export function commandReplyMessageId(msgid: string, fromAddress: string): string {
  const domain = fromAddress.split('@').pop() || 'localhost';
  return `<patchgate.cmd.${createHash('sha256').update(msgid).digest('hex').slice(0, 16)}@${domain}>`;
}

/**
 * The answer to a command message (templates/mail/command.txt): To its sender, threaded to it, each command
 * line quoted with its acknowledgement or refusal. Automated-mail headers, so nobody answers it back.
 */
export function buildCommandReply(message: ParsedMessage, records: CommandRecord[], from: string, dir = templatesDir()): MailPayload {
  const sender = parseAddress(from);
  const load = (rel: string) => parseTemplate(readFileSync(path.join(dir, rel), 'utf8'), rel);
  const subjectLine = /^re:/i.test(message.subject.raw) ? message.subject.raw : `Re: ${message.subject.raw}`;
  const firstName = message.from.name.trim().split(/\s+/)[0] ?? '';
  const view = {
    subject: subjectLine, greeting: firstName ? `Hi ${firstName},` : 'Hello,', msgid: message.msgid,
    records: records.map((r) => ({ ...r, state_word: r.state === 'accepted' ? 'Accepted' : 'Refused' })),
  };
  const subject = renderNodes(load('mail/command.subject.txt'), view, { name: 'command.subject' }).trim().replace(/\s+/g, ' ');
  const body = renderNodes(load('mail/command.txt'), view, { name: 'command' });
  return {
    from: sender,
    to: [message.from],
    cc: [],
    subject,
    text: wrapText(body.replace(/\n{3,}/g, '\n\n').replace(/^\n+/, '').replace(/\n*$/, '\n')),
    messageId: commandReplyMessageId(message.msgid, sender.email),
    inReplyTo: message.msgid,
    references: [...message.references.filter((r) => r !== message.msgid), message.msgid],
    headers: {
      'Auto-Submitted': 'auto-replied',
      'X-Patchgate-Command-Reply': records.map((r) => `${r.command}=${r.state}`).join(', '),
    },
  };
}

interface DecideInput {
  msgid: string;
  sender: string;
  series: Series | null;
  /** the series id the message was attached to (kept in the records even when the series is unknown) */
  seriesId: string | null;
  commands: ParsedCommand[];
  /** a reason that refuses every command of the message (unverified sender, not in a series thread) */
  refuseAll: string | null;
  knownTrees: string[];
  /** the trees the series is on (authorisation) */
  trees: string[];
  allowed(owners: string[]): boolean;
  /** the refusal's reason when not allowed */
  who(owners: string[]): string;
}

interface Decided {
  msgid: string;
  sender: string;
  records: CommandRecord[];
  actions: CommandAction[];
  /** overrides to store: [key, value] */
  sets: [string, string][];
}

/** `head-run <tree>` and `bisect [<tree>] <good>..<bad> [metric]`: parsed, authorised for the tree, turned into a heads action. */
function decideTreeCommand(c: ParsedCommand, input: DecideInput, actions: CommandAction[], accept: (r: string) => void, refuse: (r: string) => void): void {
  const words = (c.argument ?? '').split(/\s+/).filter(Boolean);
  let tree: string | undefined;
  if (c.command === 'bisect' && words.length > 0 && words[0].includes('..')) {
    // no tree named: the series' tree, when the thread is a series on exactly one
    if (input.trees.length !== 1) {
      refuse(`bisect needs a tree: patchgate: bisect <tree> <good>..<bad> [metric]${input.trees.length ? ` (this series is on ${input.trees.join(', ')})` : ''}`);
      return;
    }
    tree = input.trees[0];
  } else tree = words.shift();
  if (!tree) { refuse(`${c.command} needs a tree name`); return; }
  if (!input.knownTrees.includes(tree)) { refuse(`unknown tree ${tree} (configured: ${input.knownTrees.join(', ') || 'none'})`); return; }
  if (!input.allowed([tree])) { refuse(input.who([tree])); return; }
  const ids = { tree, msgid: input.msgid, line: c.line, sender: input.sender };
  if (c.command === 'head-run') {
    if (words.length) { refuse('head-run takes only a tree name'); return; }
    actions.push({ type: 'head-run', ...ids });
    accept(`a HEAD run of ${tree} is queued`);
    return;
  }
  const range = words.shift() ?? '';
  const m = /^(.+?)\.\.(.+)$/.exec(range);
  if (!m || !REV.test(m[1]) || !REV.test(m[2]) || m[1].includes('..') || m[2].includes('..')) {
    refuse('bisect needs a range <good>..<bad> of commit ids or names');
    return;
  }
  const metric = words.shift() ?? null;
  if (metric !== null && !/^[a-z0-9][a-z0-9_]{0,63}$/.test(metric)) { refuse(`not a metric name: ${metric.slice(0, 64)}`); return; }
  if (words.length) { refuse('bisect takes a tree, a range and a metric, nothing more'); return; }
  actions.push({ type: 'bisect', ...ids, good: m[1], bad: m[2], metric });
  accept(`a bisection of ${tree} ${m[1]}..${m[2]}${metric ? ` (${metric})` : ''} is queued`);
}

/** Each command of a message: accepted (with its action and override) or refused with the reason. Pure. */
function decideCommands(input: DecideInput): Decided {
  const { msgid, sender, series, commands, knownTrees } = input;
  const records: CommandRecord[] = [];
  const actions: CommandAction[] = [];
  const sets: [string, string][] = [];
  for (const c of commands) {
    const base = { msgid, line: c.line, seriesId: series?.id ?? input.seriesId, version: series?.version ?? null, sender, command: c.command, argument: c.argument };
    const refuse = (reason: string) => records.push({ ...base, state: 'refused', reason });
    const accept = (reason: string) => records.push({ ...base, state: 'accepted', reason });
    if (input.refuseAll) {
      refuse(input.refuseAll);
      continue;
    }
    if (TREE_COMMANDS.has(c.command)) {
      decideTreeCommand(c, input, actions, accept, refuse);
      continue;
    }
    if (!series) {
      refuse('not in a series thread');
      continue;
    }
    // authorisation: a global maintainer, or a maintainer of a tree the series is on (of the named tree
    // when the series is on none)
    const owners = input.trees.length > 0 ? input.trees : c.command === 'tree' && c.argument ? [c.argument] : [];
    if (!input.allowed(owners)) {
      refuse(input.who(owners));
      continue;
    }
    const ids = { seriesId: series.id, version: series.version, msgid, sender };
    switch (c.command) {
      case 'retest':
      case 'perf':
        if (c.argument) { refuse(`${c.command} takes no argument`); break; }
        actions.push({ type: 'retest', ...ids, perf: c.command === 'perf' });
        if (c.command === 'perf') sets.push(['perf', 'requested']);
        accept(`${series.id} v${series.version} queued for a ${c.command === 'perf' ? 'run with the performance gate' : 'new run'}`);
        break;
      case 'tree': {
        const name = c.argument ?? '';
        if (!name) { refuse('tree needs a tree name'); break; }
        if (!knownTrees.includes(name)) { refuse(`unknown tree ${name} (configured: ${knownTrees.join(', ') || 'none'})`); break; }
        sets.push(['tree', name]);
        actions.push({ type: 'tree', ...ids, tree: name });
        accept(`${series.id} will be tested on ${name}`);
        break;
      }
      case 'base': {
        const sha = (c.argument ?? '').toLowerCase();
        if (!/^[0-9a-f]{7,40}$/.test(sha)) { refuse('base needs a commit id (7 to 40 hex digits)'); break; }
        sets.push(['base', sha]);
        actions.push({ type: 'base', ...ids, sha });
        accept(`${series.id} will be applied on ${sha}`);
        break;
      }
      case 'skip': {
        const gate = (c.argument ?? '').toLowerCase();
        if (!/^[a-z0-9][a-z0-9_-]*$/.test(gate)) { refuse('skip needs a gate name'); break; }
        sets.push([`skip:${gate}`, gate]);
        actions.push({ type: 'skip', ...ids, gate });
        accept(`gate ${gate} skipped for ${series.id}`);
        break;
      }
      case 'superseded':
        if (c.argument) { refuse('superseded takes no argument'); break; }
        sets.push(['superseded', 'yes']);
        actions.push({ type: 'superseded', ...ids });
        accept(`${series.id} v${series.version} marked superseded: not tested further`);
        break;
      default:
        refuse(`unknown command ${c.command} (known: retest, perf, tree, base, skip, superseded, head-run, bisect)`);
    }
  }
  return { msgid, sender, records, actions, sets };
}

/**
 * Stores a message's records and overrides (and whatever ALSO writes: its answer) in one transaction, once:
 * false when the message was handled before. Logs each command.
 */
function storeDecided(db: Db, d: Decided, seriesId: string | null, log: Logger, also: () => void = () => {}): boolean {
  const insert = db.prepare(`INSERT INTO commands (msgid, line, series_id, version, sender, command, argument, state, reason)
      VALUES (@msgid, @line, @seriesId, @version, @sender, @command, @argument, @state, @reason) ON CONFLICT (msgid, line) DO NOTHING`);
  const setOverride = db.prepare(`INSERT INTO series_overrides (series_id, key, value, msgid, sender) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (series_id, key) DO UPDATE SET value = excluded.value, msgid = excluded.msgid, sender = excluded.sender,
        created_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')`);
  const stored = db.transaction(() => {
    let n = 0;
    for (const r of d.records) n += insert.run(r).changes;
    if (n === 0) return false;
    if (seriesId) for (const [key, value] of d.sets) setOverride.run(seriesId, key, value, d.msgid, d.sender);
    also();
    return true;
  }).immediate();
  if (stored) {
    for (const r of d.records) {
      log[r.state === 'accepted' ? 'info' : 'warn']({ sender: d.sender, command: r.command, argument: r.argument, reason: r.reason }, `command ${r.state}`);
    }
  }
  return stored;
}

export interface ProcessOptions {
  log?: Logger;
}

/**
 * Reads the commands in the comments of DOC (replies in series threads), records each as accepted or
 * refused, stores the overrides the accepted ones set, and returns what the pipeline should do.
 * BYMSGID holds the parsed messages (at least the comments and the series' cover letters / first patches).
 */
export async function processCommands(db: Db, doc: SeriesDocument, byMsgid: Map<string, ParsedMessage>, settings: Settings,
  opts: ProcessOptions = {}): Promise<CommandResult> {
  const log = (opts.log ?? logger).child({ module: 'commands' });
  const result: CommandResult = { actions: [], records: [] };
  const cfg = settings.commands;
  if (!cfg.enabled) return result;
  const own = lower(parseAddress(settings.smtp.from).email);
  const global = new Set(cfg.maintainers.map(lower));
  const perTree = new Map(Object.entries(cfg.trees).map(([t, list]) => [t, new Set(list.map(lower))]));
  const knownTrees = await treeNames(settings);
  const lists = treeLists(settings);
  const listDomains = new Set([...settings.reply.lists, ...Object.keys(settings.reply.per_list), ...settings.trees.flatMap((t) => t.lists)]
    .map((l) => domainOf(lower(l))));
  const seriesById = new Map(doc.series.map((s) => [s.id, s]));
  const seen = db.prepare('SELECT 1 FROM commands WHERE msgid = ? LIMIT 1').pluck();
  const runTree = db.prepare('SELECT tree FROM runs WHERE series_id = ? AND version = ?').pluck();
  // answers are mail rows without a verdict (the reports' queries skip them)
  const insertAnswer = db.prepare(`INSERT INTO outbox (message_id, series_id, version, channel, recipients, payload, state, result, list)
      VALUES (?, ?, ?, 'mail', ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING`);
  const enabledLists = new Set(settings.reply.lists.map(lower));
  /** The list the command came through when sending is enabled for it (reply.lists), else null. */
  function answerList(message: ParsedMessage): string | null {
    const addresses = [...message.to, ...message.cc].map((p) => lower(p.email));
    const listAddr = message.listId ? listIdAddress(message.listId) : null;
    if (listAddr) addresses.unshift(listAddr);
    return addresses.find((a) => enabledLists.has(a)) ?? null;
  }

  /** The trees a series belongs to: its run's tree and a tree override; else its subject's, else its lists'. */
  function treesOf(series: Series): string[] {
    const out = new Set<string>();
    const ran = runTree.get(series.id, series.version) as string | null | undefined;
    if (ran) out.add(ran);
    const over = treeOverride(db, series.id);
    if (over) out.add(over.tree);
    if (out.size > 0) return [...out];
    // not run yet: the trees its subject tokens name, else those whose lists it was sent to
    for (const t of settings.trees) if (t.tokens.some((tok) => series.tags.includes(lower(tok)))) out.add(t.name);
    if (out.size > 0) return [...out];
    const origin = byMsgid.get(series.cover ?? series.patches[0]?.msgid ?? '');
    const addresses = new Set([...(origin?.to ?? []), ...(origin?.cc ?? [])].map((p) => lower(p.email)));
    const listAddr = origin?.listId ? listIdAddress(origin.listId) : null;
    if (listAddr) addresses.add(listAddr);
    for (const [tree, treeListsOf] of lists) if (treeListsOf.some((l) => addresses.has(l))) out.add(tree);
    return [...out];
  }

  for (const comment of doc.comments) {
    const message = byMsgid.get(comment.msgid);
    if (!message) continue;
    const commands = parseCommands(message.body);
    if (commands.length === 0) continue;
    const mlog = log.child({ msgid: message.msgid, series: comment.series });
    if (isOwnMail(message, own)) {
      mlog.info('patchgate\'s own mail: commands in it are never acted on');
      continue;
    }
    if (seen.get(message.msgid)) {
      mlog.debug('commands of this message already handled');
      continue;
    }
    const sender = lower(message.from.email);
    const series = comment.series ? seriesById.get(comment.series) ?? null : null;
    // outside a series thread only the tree commands count: a message with none of them is refused as before
    const treeCommands = commands.some((c) => TREE_COMMANDS.has(c.command));
    const refuseAll = (() => {
      if (!series && !treeCommands) return 'not in a series thread';
      const forged = cfg.verify_sender ? senderMismatch(message, loadRaw(db, message.msgid), listDomains) : null;
      if (forged) return `sender not verified: ${forged}`;
      return null;
    })();
    const decided = decideCommands({
      msgid: message.msgid, sender, series, seriesId: comment.series, commands, refuseAll, knownTrees,
      trees: series ? treesOf(series) : [],
      allowed: (owners) => global.has(sender) || owners.some((t) => perTree.get(t)?.has(sender)),
      who: (owners) => `${sender} is not a maintainer of ${owners.length ? owners.join(', ') : 'this series\' tree (none known)'} nor in commands.maintainers`,
    });
    const { records, actions, sets } = decided;
    // the answer: not to a sender that could not be verified (no backscatter to a forged From), not to bots
    const bot = botReason({ headers: message.headers, from: message.from } as Parameters<typeof botReason>[0], [...KNOWN_BOTS, ...settings.reply.bots]);
    const answer = refuseAll || bot ? null : buildCommandReply(message, records, settings.smtp.from);
    const list = answerList(message);
    // the message's records, overrides and answer: all or none, once
    const stored = storeDecided(db, decided, series?.id ?? null, mlog, () => {
      if (!answer) return;
      const send = settings.reply.mode === 'send' && list !== null;
      // outside a series thread the answer belongs to the tree a tree command named (`heads:<tree>`, as the heads reports)
      const treeAction = actions.find((a): a is Extract<CommandAction, { tree: string; line: number }> => a.type === 'head-run' || a.type === 'bisect');
      insertAnswer.run(answer.messageId, series?.id ?? comment.series ?? (treeAction ? `heads:${treeAction.tree}` : ''), series?.version ?? 0, JSON.stringify([sender]), JSON.stringify(answer),
        send ? 'pending' : 'dry-run', JSON.stringify({ reason: send ? 'command answer' : 'dry-run: command answer' }), list);
    });
    if (!stored) continue;
    result.records.push(...records);
    result.actions.push(...actions);
  }
  return result;
}

/** A pull request comment, as the issue_comment webhook describes it. */
export interface GithubComment {
  repo: string;
  pull: number;
  commentId: number;
  body: string;
  login: string;
  /** OWNER | MEMBER | COLLABORATOR | CONTRIBUTOR | NONE ... */
  association: string;
  /** a bot or an app (patchgate's own answers included): never acted on */
  automated: boolean;
}

/** The stable msgid a PR comment's commands are recorded under. */
export function githubCommentMsgid(c: Pick<GithubComment, 'repo' | 'commentId'>): string {
  return `<comment-${c.commentId}.${c.repo.replace('/', '.')}@github.patchgate.invalid>`;
}

/** The hidden marker of patchgate's answers on pull requests. */
export const GITHUB_COMMAND_MARKER = '<!-- patchgate:command -->';

/** The answer to a PR comment's commands (templates/github/command.md; user text escaped). */
export function renderGithubCommandAnswer(records: CommandRecord[], dir = templatesDir()): string {
  const view = { marker: GITHUB_COMMAND_MARKER, records: records.map((r) => ({ ...r, state_word: r.state === 'accepted' ? 'Accepted' : 'Refused' })) };
  const nodes = parseTemplate(readFileSync(path.join(dir, 'github', 'command.md'), 'utf8'), 'github/command.md');
  return renderNodes(nodes, view, { name: 'github/command', escape: escapeMarkdown }).replace(/\n{3,}/g, '\n\n').replace(/^\n+/, '').replace(/\n*$/, '\n');
}

/**
 * The commands of a pull request comment (the same as by mail): allowed for `commands.github_users` and
 * for authors whose association with the repository is in `commands.github_associations`; they act on the
 * PR's newest revision. Recorded once per comment. Returns the result and the answer to post (null when
 * nothing was read).
 */
export async function processGithubComment(db: Db, c: GithubComment, settings: Settings, opts: ProcessOptions = {}):
  Promise<CommandResult & { answer: string | null }> {
  const log = (opts.log ?? logger).child({ module: 'commands', pr: `${c.repo}#${c.pull}`, comment: c.commentId });
  const none = { actions: [], records: [], answer: null };
  const cfg = settings.commands;
  if (!cfg.enabled) return none;
  const commands = parseCommands(c.body);
  if (commands.length === 0) return none;
  if (c.automated || c.body.includes(GITHUB_COMMAND_MARKER)) {
    log.info('a bot\'s or patchgate\'s own comment: commands in it are never acted on');
    return none;
  }
  const msgid = githubCommentMsgid(c);
  const cover = db.prepare('SELECT cover_msgid FROM github_pulls WHERE repo = ? AND number = ? ORDER BY revision DESC LIMIT 1').pluck()
    .get(c.repo, c.pull) as string | undefined;
  const json = cover ? db.prepare(`SELECT doc FROM series WHERE json_extract(doc, '$.cover') = ? LIMIT 1`).pluck().get(cover) as string | undefined : undefined;
  const series = json ? (JSON.parse(json) as Series) : null;
  const login = c.login.toLowerCase();
  const users = new Set(cfg.github_users.map(lower));
  const associations = new Set(cfg.github_associations.map((a) => a.toUpperCase()));
  const decided = decideCommands({
    msgid, sender: `github:${login}`, series, seriesId: series?.id ?? null, commands,
    refuseAll: series ? null : `${c.repo}#${c.pull} is not a series patchgate knows`,
    knownTrees: await treeNames(settings), trees: [],
    allowed: () => users.has(login) || associations.has(c.association.toUpperCase()),
    who: () => `${c.login} (${c.association.toLowerCase()}) may not command patchgate here: not in commands.github_users, and ${c.association} is not in commands.github_associations`,
  });
  if (!storeDecided(db, decided, series?.id ?? null, log)) return none;
  return { actions: decided.actions, records: decided.records, answer: renderGithubCommandAnswer(decided.records) };
}

interface IssueCommentPayload {
  issue: { number: number; pull_request?: unknown };
  comment: { id: number; body: string | null; user: { login: string; type: string } | null; author_association: string; performed_via_github_app: unknown };
  repository: { full_name: string; name: string; owner: { login: string } };
}

export interface GithubCommandsAppOptions {
  db: Db;
  settings: Settings;
  log?: Logger;
  /** what the caller does with the result (executeCommandActions with its pipeline) */
  onResult?: (result: CommandResult) => void | Promise<void>;
}

/**
 * A probot app (load it beside the ingest's: `probot.load(githubCommandsApp(...))`): commands in new pull
 * request comments, answered by a comment (when reply.mode is send; dry-run logs it).
 */
export function githubCommandsApp(opts: GithubCommandsAppOptions): ApplicationFunction {
  return (app) => {
    app.on('issue_comment.created', async (context) => {
      const p = context.payload as unknown as IssueCommentPayload;
      if (!p.issue.pull_request) return;
      const result = await processGithubComment(opts.db, {
        repo: p.repository.full_name, pull: p.issue.number, commentId: p.comment.id, body: p.comment.body ?? '',
        login: p.comment.user?.login ?? 'ghost', association: p.comment.author_association,
        automated: p.comment.user?.type === 'Bot' || !!p.comment.performed_via_github_app,
      }, opts.settings, { log: opts.log });
      if (result.records.length === 0) return;
      if (result.answer && opts.settings.reply.mode === 'send') {
        await context.octokit.request('POST /repos/{owner}/{repo}/issues/{issue_number}/comments', {
          owner: p.repository.owner.login, repo: p.repository.name, issue_number: p.issue.number, body: result.answer,
        });
      } else if (result.answer) {
        (opts.log ?? logger).info({ pr: `${p.repository.full_name}#${p.issue.number}` }, 'dry-run: answer to PR commands not posted');
      }
      await opts.onResult?.(result);
    });
  };
}

/** What the pipeline offers the executor (src/queue/pipeline.ts's Pipeline). */
export interface CommandPipeline {
  enqueue(seriesId: string, version: number): Promise<'added' | 'exists' | 'done'>;
  cancel(seriesId: string, version: number, reason: string): Promise<void>;
}

/** The heads queue's triggers (src/heads/schedule.ts headsEnqueuer): the jobs the schedule's worker runs. */
export interface CommandHeads {
  headRun(tree: string, trigger: 'mail', jobId?: string): Promise<string>;
  bisect(tree: string, trigger: 'mail', request: { good: string; bad: string; metric?: string | null }, jobId?: string): Promise<string>;
}

export interface ExecutedAction {
  /** the series, or `heads:<tree>` for a tree command */
  seriesId: string;
  version: number;
  result: 'added' | 'exists' | 'done' | 'cancelled' | 'not-queued';
  /** a tree command: the heads queue's job id */
  job?: string;
}

/** The job id of a tree command: the same command line of the same mail adds one job. */
function commandJobId(a: { type: string; msgid: string; line: number }): string {
  return `${a.type}-mail-${createHash('sha256').update(`${a.msgid}\n${a.line}`).digest('hex').slice(0, 16)}`;
}

/**
 * Runs the actions: retest, perf, tree and base queue the revision again (once per revision; a finished
 * run is reset to queued first so the pipeline does not answer `done`); superseded cancels what is
 * unfinished; skip only sets its override; head-run and bisect add a job to the heads queue (HEADS; without
 * it they are logged as not queued). Returns what happened per revision (per tree: `heads:<tree>`).
 */
export async function executeCommandActions(db: Db, actions: CommandAction[], pipeline: CommandPipeline, opts: { heads?: CommandHeads | null; log?: Logger } = {}):
  Promise<ExecutedAction[]> {
  const out: ExecutedAction[] = [];
  const done = new Set<string>();
  for (const a of actions) {
    if (a.type === 'head-run' || a.type === 'bisect') {
      const seriesId = `heads:${a.tree}`;
      if (!opts.heads) {
        (opts.log ?? logger).warn({ command: a.type, tree: a.tree, msgid: a.msgid }, 'no heads queue attached: command not queued');
        out.push({ seriesId, version: 0, result: 'not-queued' });
        continue;
      }
      const job = a.type === 'head-run'
        ? await opts.heads.headRun(a.tree, 'mail', commandJobId(a))
        : await opts.heads.bisect(a.tree, 'mail', { good: a.good, bad: a.bad, metric: a.metric }, commandJobId(a));
      out.push({ seriesId, version: 0, result: 'added', job });
      continue;
    }
    const key = `${a.seriesId}\u0000${a.version}`;
    if (a.type === 'superseded') {
      await pipeline.cancel(a.seriesId, a.version, `superseded, as ${a.sender} said (${a.msgid})`);
      out.push({ seriesId: a.seriesId, version: a.version, result: 'cancelled' });
      done.add(key);
      continue;
    }
    if (a.type === 'skip' || done.has(key)) continue;
    done.add(key);
    const run = db.prepare('SELECT state FROM runs WHERE series_id = ? AND version = ?').pluck().get(a.seriesId, a.version) as string | undefined;
    if (run === 'done' || run === 'cancelled') queueRun(db, a.seriesId, a.version, 'report');
    out.push({ seriesId: a.seriesId, version: a.version, result: await pipeline.enqueue(a.seriesId, a.version) });
  }
  return out;
}
