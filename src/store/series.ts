// Series snapshots: the assembled document is saved so the dashboard, the API and the pipeline read it
// without re-assembling. Saving the same document again changes nothing.
import type { Series, SeriesDocument } from '../series/types.js';
import type { Db } from './db.js';

export function saveSeriesDocument(db: Db, doc: SeriesDocument, firstDates: Map<string, string | null>): { changed: number } {
  const get = db.prepare('SELECT doc FROM series WHERE id = ?').pluck();
  const upsert = db.prepare(`INSERT INTO series (id, version, name, submitter, received_all, first_date, doc)
      VALUES (@id, @version, @name, @submitter, @received_all, @first_date, @doc)
      ON CONFLICT (id) DO UPDATE SET version = excluded.version, name = excluded.name, submitter = excluded.submitter,
        received_all = excluded.received_all, first_date = excluded.first_date, doc = excluded.doc,
        updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')`);
  let changed = 0;
  db.transaction(() => {
    for (const s of doc.series) {
      const json = JSON.stringify(s);
      if (get.get(s.id) === json) continue;
      upsert.run({
        id: s.id, version: s.version, name: s.name, submitter: s.submitter.email,
        received_all: s.received_all ? 1 : 0, first_date: firstDates.get(s.id) ?? null, doc: json,
      });
      changed++;
    }
  })();
  return { changed };
}

export function loadSeries(db: Db, id: string): Series | null {
  const json = db.prepare('SELECT doc FROM series WHERE id = ?').pluck().get(id) as string | undefined;
  return json ? (JSON.parse(json) as Series) : null;
}

/** Newest first (by first message date). */
export function listSeries(db: Db): Series[] {
  const rows = db.prepare('SELECT doc FROM series ORDER BY first_date DESC, id').pluck().all() as string[];
  return rows.map((r) => JSON.parse(r) as Series);
}
