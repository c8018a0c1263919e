// `patchgate outbox`: the replies and reports in the outbox, and a maintainer's approval of a held reply.
//   outbox list    --config F [--state S] [--json]           the rows, newest first
//   outbox approve <id> --by WHO --config F [--send]         a held (dry-run) reply → pending; --send delivers now
import type { Command } from 'commander';
import { UsageError, type CliIo } from '../cli.js';
import {
  approveHeldReply, configureOutbox, createMailTransport, sendOutbox, type OutboxRow, type OutboxState,
} from '../report/outbox.js';
import { loadSettings } from '../settings/load.js';
import { openDb } from '../store/db.js';

const STATES: readonly OutboxState[] = ['pending', 'sending', 'committing', 'sent', 'dry-run', 'skipped', 'failed', 'unknown'];

type ListedRow = Pick<OutboxRow, 'id' | 'state' | 'channel' | 'series_id' | 'version' | 'list' | 'message_id' | 'created_at' | 'sent_at' | 'attempts'>
  & { approved_by: string | null; approved_at: string | null };

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

export function registerOutbox(program: Command, io: CliIo): void {
  const outbox = program.command('outbox').description('the outbox: list replies and reports, approve a held reply');

  outbox.command('list')
    .description('the outbox rows, newest first')
    .requiredOption('--config <file>', 'configuration file')
    .option('--state <state>', `only rows in this state (${STATES.join(', ')})`)
    .option('--limit <n>', 'at most this many rows', '100')
    .option('--json', 'JSON output')
    .action((o: { config: string; state?: string; limit: string; json?: boolean }) => {
      if (o.state !== undefined && !STATES.includes(o.state as OutboxState)) throw new UsageError(`--state ${o.state}: one of ${STATES.join(', ')}`);
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit ${o.limit}: a positive integer`);
      const settings = loadSettings(o.config);
      const db = openDb(settings.store.path);
      try {
        const rows = db.prepare(`SELECT id, state, channel, series_id, version, list, message_id, created_at, sent_at, attempts, approved_by, approved_at
            FROM outbox ${o.state ? 'WHERE state = ?' : ''} ORDER BY id DESC LIMIT ?`).all(...(o.state ? [o.state, limit] : [limit])) as ListedRow[];
        if (o.json) {
          io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
          return;
        }
        for (const r of rows) {
          const approved = r.approved_by ? ` approved by ${r.approved_by}` : '';
          io.stdout.write(`${pad(String(r.id), 5)} ${pad(r.state, 10)} ${pad(r.channel, 9)} ${r.series_id} v${r.version} ${r.list ?? '-'} ${r.message_id}${approved}\n`);
        }
      } finally {
        db.close();
      }
    });

  outbox.command('approve <id>')
    .description('approve a reply held in the outbox (dry-run): it is sent like any pending reply')
    .requiredOption('--config <file>', 'configuration file')
    .requiredOption('--by <who>', 'who approves (recorded with the row)')
    .option('--send', 'deliver what is due now instead of leaving it to the running sender')
    .action(async (idArg: string, o: { config: string; by: string; send?: boolean }) => {
      const id = Number(idArg);
      if (!Number.isInteger(id) || id < 1) throw new UsageError(`outbox approve ${idArg}: a row id`);
      const settings = loadSettings(o.config);
      const db = openDb(settings.store.path);
      try {
        configureOutbox(settings);
        const r = approveHeldReply(db, id, o.by, settings);
        if (!r.ok) {
          io.stderr.write(`patchgate: not approved: ${r.reason}\n`);
          process.exitCode = 1;
          return;
        }
        io.stdout.write(`approved outbox row ${id} (by ${o.by.trim()}): pending\n`);
        if (o.send) {
          const transport = createMailTransport(settings);
          try {
            await sendOutbox(db, transport, { reply: settings.reply });
          } finally {
            transport.close();
          }
          const state = db.prepare('SELECT state FROM outbox WHERE id = ?').pluck().get(id) as string;
          io.stdout.write(`outbox row ${id}: ${state}\n`);
          if (state !== 'sent') process.exitCode = 1;
        }
      } finally {
        db.close();
      }
    });
}
