// Schema migrations, applied in order inside one transaction each. Append only: never edit a shipped one.
export const migrations: { id: number; name: string; sql: string }[] = [
  {
    id: 1,
    name: 'messages, series, cursors',
    sql: `
      CREATE TABLE messages (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,  -- arrival order
        msgid      TEXT NOT NULL,
        hash       TEXT NOT NULL,                      -- sha256 of raw
        source     TEXT NOT NULL,                      -- the source (or input path) it came from
        kind       TEXT NOT NULL,
        reason     TEXT,
        date       TEXT,
        subject    TEXT,
        sender     TEXT,
        raw        BLOB NOT NULL,                      -- kept as received: quarantine included
        parsed     TEXT NOT NULL,                      -- ParsedMessage as JSON
        received_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        UNIQUE (msgid, hash)
      );
      CREATE INDEX messages_msgid ON messages (msgid);
      CREATE INDEX messages_kind ON messages (kind);
      CREATE TABLE cursors (
        source TEXT NOT NULL,
        key    TEXT NOT NULL,
        value  TEXT NOT NULL,
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        PRIMARY KEY (source, key)
      );
      CREATE TABLE series (
        id          TEXT PRIMARY KEY,
        version     INTEGER NOT NULL,
        name        TEXT,
        submitter   TEXT,
        received_all INTEGER NOT NULL,
        first_date  TEXT,
        doc         TEXT NOT NULL,                     -- the Series object as JSON
        updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
      );
    `,
  },
  {
    id: 2,
    name: 'pipeline outcomes and outbox',
    sql: `
      CREATE TABLE runs (
        series_id  TEXT NOT NULL,
        version    INTEGER NOT NULL,
        state      TEXT NOT NULL,                      -- queued | running | done | cancelled
        tree       TEXT,
        tree_reason TEXT,
        branch     TEXT,
        verdict    TEXT,                               -- success | warning | failure | conflict | pending | skipped
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        PRIMARY KEY (series_id, version)
      );
      CREATE TABLE outcomes (
        series_id  TEXT NOT NULL,
        version    INTEGER NOT NULL,
        stage      TEXT NOT NULL,                      -- apply | build | gate:<id> | report
        status     TEXT NOT NULL,
        summary    TEXT,
        data       TEXT NOT NULL,                      -- JSON details
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        PRIMARY KEY (series_id, version, stage)
      );
      CREATE TABLE outbox (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id  TEXT NOT NULL UNIQUE,              -- deterministic per (series, revision, verdict)
        series_id   TEXT NOT NULL,
        version     INTEGER NOT NULL,
        channel     TEXT NOT NULL,                     -- mail | patchwork | github
        recipients  TEXT NOT NULL,                     -- JSON array
        payload     TEXT NOT NULL,                     -- the rendered message / request
        state       TEXT NOT NULL DEFAULT 'pending',   -- pending | sent | dry-run | failed
        attempts    INTEGER NOT NULL DEFAULT 0,
        result      TEXT,
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        sent_at     TEXT
      );
    `,
  },
];
