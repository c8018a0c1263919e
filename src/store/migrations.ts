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
  {
    id: 3,
    name: 'pipeline runs: last stage and finish time',
    sql: `
      ALTER TABLE runs ADD COLUMN last_stage TEXT;     -- the stage the flow ends with (run --until), NULL = report
      ALTER TABLE runs ADD COLUMN finished_at TEXT;
      ALTER TABLE runs ADD COLUMN detail TEXT;         -- why it was cancelled / failed
      CREATE INDEX runs_state ON runs (state);
    `,
  },
  {
    id: 4,
    name: 'ingest: source health, patchwork ids, github pull requests',
    sql: `
      CREATE TABLE source_health (
        source      TEXT PRIMARY KEY,                  -- the source's name in the configuration
        type        TEXT NOT NULL,
        state       TEXT NOT NULL,                     -- ok | quiet | failing
        detail      TEXT,                              -- why quiet / the last error
        failures    INTEGER NOT NULL DEFAULT 0,        -- consecutive failed polls
        polls       INTEGER NOT NULL DEFAULT 0,
        messages    INTEGER NOT NULL DEFAULT 0,        -- new messages stored from it, all time
        last_poll_at TEXT,
        last_ok_at  TEXT,                              -- last poll that did not fail
        last_new_at TEXT,                              -- last poll that stored something new (first poll at start)
        quiet_after_s REAL,
        updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
      );
      CREATE TABLE patchwork_series (
        source      TEXT NOT NULL,
        series_id   INTEGER NOT NULL,                  -- patchwork's series id
        project     TEXT NOT NULL,
        name        TEXT,
        version     INTEGER,
        url         TEXT NOT NULL,                     -- API URL of the series
        web_url     TEXT,
        mbox_url    TEXT NOT NULL,
        cover_msgid TEXT,
        event_id    INTEGER,                           -- the series-completed event it came from
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        PRIMARY KEY (source, series_id)
      );
      CREATE TABLE patchwork_patches (
        source      TEXT NOT NULL,
        patch_id    INTEGER NOT NULL,                  -- patchwork's patch id: checks are posted to it
        series_id   INTEGER NOT NULL,
        msgid       TEXT NOT NULL,
        url         TEXT NOT NULL,                     -- API URL of the patch (checks: <url>checks/)
        PRIMARY KEY (source, patch_id)
      );
      CREATE INDEX patchwork_patches_msgid ON patchwork_patches (msgid);
      CREATE TABLE github_pulls (
        source      TEXT NOT NULL,
        repo        TEXT NOT NULL,                     -- owner/name
        number      INTEGER NOT NULL,
        revision    INTEGER NOT NULL,                  -- 1, then +1 per force-push
        head_sha    TEXT NOT NULL,
        base_sha    TEXT,
        cover_msgid TEXT NOT NULL,
        patch_msgids TEXT NOT NULL,                    -- JSON array, in order
        delivery    TEXT,                              -- X-GitHub-Delivery of the event
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        PRIMARY KEY (source, repo, number, revision),
        UNIQUE (source, repo, number, head_sha)
      );
    `,
  },
  {
    id: 5,
    name: 'report outbox: verdict, list, submitter, deferral and claims',
    sql: `
      ALTER TABLE outbox ADD COLUMN verdict TEXT;        -- the verdict the report carries
      ALTER TABLE outbox ADD COLUMN list TEXT;           -- the mailing list it answers on (rate limit per list)
      ALTER TABLE outbox ADD COLUMN submitter TEXT;      -- lower-case address (rate limit per submitter)
      ALTER TABLE outbox ADD COLUMN not_before TEXT;     -- ISO time: quiet hours / retry back-off
      ALTER TABLE outbox ADD COLUMN claimed_by TEXT;     -- sender "pid:host:token" while sending | committing
      -- state: pending | sending | committing | sent | dry-run | skipped | failed | unknown
      CREATE INDEX outbox_state ON outbox (state, channel);
      CREATE INDEX outbox_series ON outbox (series_id, version, channel);
    `,
  },
];
