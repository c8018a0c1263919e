// The report sender as its own process, for crash tests: `node --import tsx sender-child.ts DB SMTP_URL CRASH_AT`.
// CRASH_AT: none | start | afterClaim | duringData | afterCommitMark | afterAccept, optionally `:N` for the
// Nth row (1-based). It SIGKILLs itself at that point; otherwise it sends everything due and prints the
// summary as JSON. PATCHGATE_TEST_REPLY (JSON) is the `reply:` section (archive lookups); with it, the
// sender also waits for rows whose archive lookup or resend is due later, until none is left.
import { sendOutbox } from '../../../../src/report/outbox.js';
import { createMailTransport } from '../../../../src/report/outbox.js';
import { parseSettings } from '../../../../src/settings/load.js';
import { openDb } from '../../../../src/store/db.js';

const [dbPath, smtpUrl, crashSpec = 'none'] = process.argv.slice(2);
const [crashAt, nth = '1'] = crashSpec.split(':');
const die = (): never => {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
};
const counts: Record<string, number> = {};
const at = (point: string) => () => {
  counts[point] = (counts[point] ?? 0) + 1;
  if (point === crashAt && counts[point] === Number(nth)) die();
};

if (crashAt === 'start') die();
const db = openDb(dbPath);
const replyJson = process.env.PATCHGATE_TEST_REPLY;
const settings = parseSettings({ smtp: { url: smtpUrl, from: 'patchgate <bot@patchgate.example.org>' }, ...(replyJson ? { reply: JSON.parse(replyJson) as unknown } : {}) });
const transport = createMailTransport(settings);
let total = { sent: 0, failed: 0, retry: 0, unknown: 0, archived: 0, resent: 0 };
for (;;) {
  const s = await sendOutbox(db, transport, {
    hooks: { afterClaim: at('afterClaim'), duringData: at('duringData'), afterCommitMark: at('afterCommitMark'), afterAccept: at('afterAccept') },
    ...(replyJson ? { reply: settings.reply } : {}),
  });
  total = {
    sent: total.sent + s.sent, failed: total.failed + s.failed, retry: total.retry + s.retry, unknown: total.unknown + s.unknown + s.recovered.unknown,
    archived: total.archived + (s.checked?.delivered ?? 0), resent: total.resent + (s.checked?.resend ?? 0),
  };
  if (s.sent + s.failed + s.retry + s.unknown + (s.checked?.delivered ?? 0) + (s.checked?.resend ?? 0) > 0) continue;
  if (!replyJson) break;
  // nothing done this pass: wait for the next row due (a lookup during the grace period), if any
  const next = db.prepare(`SELECT min(not_before) FROM outbox WHERE channel = 'mail' AND (state = 'pending' OR (state = 'unknown' AND not_before IS NOT NULL))`).pluck().get() as string | null;
  if (!next) break;
  await new Promise((r) => setTimeout(r, Math.min(2000, Math.max(20, Date.parse(next) - Date.now()))));
}
transport.close();
db.close();
process.stdout.write(`${JSON.stringify(total)}\n`);
