// `npm run bench -- series [--limit N] [--json FILE]`: time of assembleSeries (threading, series,
// revisions, trailers, ids) over the real 10,000-message public-inbox archive, parsed beforehand,
// against a baseline measured in the same run: indexing the same messages by Message-ID and
// serialising the result document (the least any assembly has to do). Prints the ratio, plus what
// the engine found (kinds, series, completeness) as a sanity check.
import { writeFileSync } from 'node:fs';
import { archiveGitDir } from '../helpers/archive.js';
import { parseMessage } from '../../src/mail/parse.js';
import type { ParsedMessage } from '../../src/mail/types.js';
import { readEpoch } from '../../src/ingest/public-inbox-git.js';
import { assembleSeries } from '../../src/series/assemble.js';
import type { SeriesDocument } from '../../src/series/types.js';

const args = process.argv.slice(2);
const limit = args.includes('--limit') ? Number(args[args.indexOf('--limit') + 1]) : 0;
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : null;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function time<T>(fn: () => T, runs = 7): { ms: number; value: T } {
  let value!: T;
  const ms: number[] = [];
  for (let k = 0; k < runs; k++) {
    (globalThis as { gc?: () => void }).gc?.();
    const t0 = process.hrtime.bigint();
    value = fn();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { ms: median(ms), value };
}

async function main(): Promise<void> {
  const gitDir = archiveGitDir();
  const messages: ParsedMessage[] = [];
  const t0 = Date.now();
  for await (const m of readEpoch(gitDir)) {
    if (limit && messages.length >= limit) break;
    messages.push(await parseMessage(m.raw));
  }
  process.stdout.write(`parsed ${messages.length} messages in ${((Date.now() - t0) / 1000).toFixed(1)} s (not timed below)\n`);

  const baseline = time(() => {
    const index = new Map<string, ParsedMessage>();
    for (const m of messages) if (!index.has(m.msgid)) index.set(m.msgid, m);
    return JSON.stringify({ messages: [...index.values()].map((m) => ({ msgid: m.msgid, kind: m.kind, reason: m.reason })) }).length;
  });
  const engine = time(() => assembleSeries(messages, { sloppyTrailers: false }));
  const doc: SeriesDocument = engine.value;
  const json = time(() => JSON.stringify(doc).length);

  const kinds = new Map<string, number>();
  for (const m of doc.messages) kinds.set(m.kind, (kinds.get(m.kind) ?? 0) + 1);
  const complete = doc.series.filter((s) => s.received_all).length;
  const withCover = doc.series.filter((s) => s.cover).length;
  const linked = doc.series.filter((s) => s.previous).length;
  const orphanComments = doc.comments.filter((c) => c.series === null).length;
  process.stdout.write(
    [
      `baseline (index + serialise message list): ${baseline.ms.toFixed(1)} ms`,
      `assembleSeries:                            ${engine.ms.toFixed(1)} ms  (${(engine.ms / baseline.ms).toFixed(1)}x baseline)`,
      `JSON.stringify(document):                  ${json.ms.toFixed(1)} ms`,
      `messages: ${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')}`,
      `series: ${doc.series.length} (${complete} complete, ${withCover} with cover, ${linked} with previous); comments: ${doc.comments.length} (${orphanComments} outside any series)`,
    ].join('\n') + '\n',
  );
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(doc, null, 2));
}

await main();
