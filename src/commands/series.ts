// `patchgate series`, `patchgate am` and `patchgate export` (shared/docs/contract.md).
import type { Command } from 'commander';
import type { CliIo } from '../cli.js';
import { UsageError } from '../cli.js';
import { assembleStored, ingestInputs } from '../ingest/ingest.js';
import { readMailInputs, checkInputs } from '../ingest/inputs.js';
import type { CoreMessage, ParsedMessage } from '../mail/types.js';
import { renderAm, type AmOptions } from '../series/am.js';
import type { Series, SeriesDocument } from '../series/types.js';
import { openDb, type Db } from '../store/db.js';
import { countMessages, loadParsedMessages, type StoredForm } from '../store/messages.js';
import { createParsePool } from '../ingest/parse-pool.js';

interface ReadOptions {
  store?: string;
  sloppyTrailers?: boolean;
  ignoreTrailersFrom?: string[];
  workers?: string;
}

/** Reads PATHS into the store (':memory:' unless --store) and assembles the series document. */
export async function seriesFromPaths(paths: string[], opts: ReadOptions, io: CliIo): Promise<{ db: Db; doc: SeriesDocument }> {
  if (paths.length === 0) throw new UsageError('no mail to read: give one or more PATHs (or - for standard input)');
  checkInputs(paths);
  const db = openDb(opts.store ?? ':memory:');
  const workers = opts.workers !== undefined ? parseInt(opts.workers, 10) : undefined;
  const pool = await createParsePool({ workers });
  // Into an empty store, what this run stores is everything, in store order: the core copies the assembly
  // needs are read from each batch as it is stored, while the parser threads work on the next ones, instead
  // of being loaded back from the store afterwards (measured: ~0.2 s of 10,000 messages off the end).
  const messages: CoreMessage[] | undefined = countMessages(db) === 0 ? [] : undefined;
  const onStored = messages && ((rows: StoredForm[]) => {
    for (const r of rows) messages.push(JSON.parse(typeof r.core === 'string' ? r.core : r.core.toString('utf8')) as CoreMessage);
  });
  try {
    await ingestInputs(db, readMailInputs(paths, io.stdin), { parseBatch: pool.parseBatch, prepareBatch: pool.prepareBatch, onStored, release: pool.release });
  } finally {
    await pool.close();
  }
  const assembleOpts = {
    sloppyTrailers: !!opts.sloppyTrailers,
    ignoreTrailersFrom: (opts.ignoreTrailersFrom ?? []).map((a) => a.toLowerCase()),
  };
  // another writer (a daemon on the same store) may have stored mail meanwhile: then the store is read
  const doc = messages && countMessages(db) === messages.length ? assembleStored(db, assembleOpts, messages) : assembleStored(db, assembleOpts);
  return { db, doc };
}

function writeJson(io: CliIo, value: unknown): void {
  io.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function summary(doc: SeriesDocument): string {
  const lines: string[] = [];
  for (const s of doc.series) {
    const mark = s.received_all ? 'complete' : `incomplete ${s.patches.length}/${s.total}`;
    lines.push(`${s.id}  v${s.version}  ${mark}  ${s.name ?? '(no name)'}  <${s.submitter.email}>`);
  }
  const kinds = new Map<string, number>();
  for (const m of doc.messages) kinds.set(m.kind, (kinds.get(m.kind) ?? 0) + 1);
  lines.push(`${doc.messages.length} messages: ${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')}; ${doc.series.length} series`);
  return lines.join('\n') + '\n';
}

/** The newest complete revision: highest version, then latest in arrival order. */
export function pickNewestComplete(doc: SeriesDocument): Series | null {
  let best: Series | null = null;
  for (const s of doc.series) {
    if (!s.received_all) continue;
    if (!best || s.version >= best.version) best = s;
  }
  return best;
}

export function registerSeries(program: Command, io: CliIo): void {
  program
    .command('series')
    .description('group mail into series, revisions, comments and trailers')
    .argument('<paths...>', 'mbox, message file, maildir, public-inbox git dir, or - for stdin')
    .option('--json', 'print the series document as JSON')
    .option('--sloppy-trailers', 'accept follow-up trailers whose address differs from the sender')
    .option('--store <file>', 'keep the store in this SQLite file (default: in memory)')
    .option('--workers <n>', 'parser worker threads (default: one per core, 0 = in process)')
    .action(async (paths: string[], opts: ReadOptions & { json?: boolean }) => {
      const { db, doc } = await seriesFromPaths(paths, opts, io);
      db.close();
      if (opts.json) writeJson(io, doc);
      else io.stdout.write(summary(doc));
    });
}

export function registerAm(program: Command, io: CliIo): void {
  program
    .command('am')
    .description('print a git-am-ready mbox of the newest complete revision, with collected trailers')
    .argument('<paths...>', 'mbox, message file, maildir, public-inbox git dir, or - for stdin')
    .option('--add-my-sob <ident>', 'add your Signed-off-by ("Name <email>") last')
    .option('--add-link', 'add a Link: trailer to each patch')
    .option('--link-mask <fmt>', 'the Link trailer, %s is the msgid', 'Link: https://patch.msgid.link/%s')
    .option('--sloppy-trailers', 'accept follow-up trailers whose address differs from the sender')
    .option('--trailer-order <spec>', 'order of the added trailers, e.g. "Cc,Tested*,Reviewed*,*"')
    .option('--copy-ccs', 'add the To and Cc addresses as Cc: trailers')
    .option('--no-add-trailers', 'do not add trailers collected from follow-ups')
    .option('--ignore-trailers-from <addr>', 'ignore trailers sent by this address (repeatable)', collect)
    .option('--series <id>', 'this series instead of the newest complete revision')
    .option('--store <file>', 'keep the store in this SQLite file (default: in memory)')
    .option('--workers <n>', 'parser worker threads (default: one per core, 0 = in process)')
    .action(async (paths: string[], opts: ReadOptions & {
      addMySob?: string; addLink?: boolean; linkMask: string; trailerOrder?: string; copyCcs?: boolean;
      addTrailers: boolean; series?: string;
    }) => {
      const { db, doc } = await seriesFromPaths(paths, opts, io);
      const byMsgid = new Map<string, ParsedMessage>(loadParsedMessages(db).map((m) => [m.msgid, m]));
      db.close();
      const series = opts.series ? doc.series.find((s) => s.id === opts.series) ?? null : pickNewestComplete(doc);
      if (!series) throw new UsageError(opts.series ? `no series ${opts.series} in the given mail` : 'no complete series in the given mail');
      const amOpts: AmOptions = {
        addMySob: opts.addMySob,
        addLink: !!opts.addLink,
        linkMask: opts.linkMask,
        trailerOrder: opts.trailerOrder,
        copyCcs: !!opts.copyCcs,
        noAddTrailers: opts.addTrailers === false,
      };
      io.stdout.write(renderAm(series, byMsgid, amOpts));
    });
}

export function registerExport(program: Command, io: CliIo): void {
  program
    .command('export')
    .description('print the series document for everything in the store')
    .requiredOption('--config <file>', 'configuration file')
    .option('--json', 'JSON output (the same document as series --json)')
    .action(async (opts: { config: string; json?: boolean }) => {
      const { loadSettings } = await import('../settings/load.js'); // yaml and zod: only this command needs them
      const settings = loadSettings(opts.config);
      const db = openDb(settings.store.path);
      const doc = assembleStored(db, { sloppyTrailers: false });
      db.close();
      if (opts.json) writeJson(io, doc);
      else io.stdout.write(summary(doc));
    });
}
