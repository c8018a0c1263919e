// The report sender as its own process, for crash tests: `node --import tsx sender-child.ts DB SMTP_URL CRASH_AT`.
// CRASH_AT: none | start | afterClaim | afterCommitMark | afterAccept, optionally `:N` for the Nth row (1-based).
// It SIGKILLs itself at that point; otherwise it sends everything due and prints the summary as JSON.
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
const settings = parseSettings({ smtp: { url: smtpUrl, from: 'patchgate <bot@patchgate.example.org>' } });
const transport = createMailTransport(settings);
let total = { sent: 0, failed: 0, retry: 0, unknown: 0 };
for (;;) {
  const s = await sendOutbox(db, transport, {
    hooks: { afterClaim: at('afterClaim'), afterCommitMark: at('afterCommitMark'), afterAccept: at('afterAccept') },
  });
  total = { sent: total.sent + s.sent, failed: total.failed + s.failed, retry: total.retry + s.retry, unknown: total.unknown + s.unknown + s.recovered.unknown };
  if (s.sent + s.failed + s.retry + s.unknown === 0) break;
}
transport.close();
db.close();
process.stdout.write(`${JSON.stringify(total)}\n`);
