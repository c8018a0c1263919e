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
  {
    id: 6,
    name: 'dashboard: queue state per series kept by triggers, indexes for the queue and live updates',
    sql: `
      -- The queue's derived row per series (state, list, trailer counts), kept current by the triggers below
      -- whoever writes series, runs or outcomes; the dashboard filters, sorts and pages on it in SQL. (DELETE then
      -- INSERT, not INSERT OR REPLACE: an upsert that fires a trigger imposes its own conflict policy on the trigger.)
      CREATE INDEX series_first_date ON series (first_date, id);
      CREATE INDEX series_name ON series (name COLLATE NOCASE, first_date, id);
      CREATE INDEX series_submitter ON series (submitter COLLATE NOCASE);
      CREATE INDEX series_search ON series (name, submitter, id);   -- LIKE searches scan this, not the documents
      CREATE INDEX series_updated ON series (updated_at);
      CREATE INDEX series_previous ON series (json_extract(doc, '$.previous'));
      CREATE INDEX runs_tree ON runs (tree);
      CREATE INDEX runs_updated ON runs (updated_at);
      CREATE INDEX outcomes_updated ON outcomes (updated_at);
      CREATE INDEX outcomes_stage ON outcomes (stage, updated_at);
      CREATE TABLE series_queue (
        series_id   TEXT PRIMARY KEY,
        state       TEXT NOT NULL,     -- new | incomplete | queued | applied | building | testing | passed | needs-ack | failed | superseded
        list        TEXT,              -- List-Id of the cover letter (else patch 1), else the configured source it came from
        patches     INTEGER NOT NULL,
        acks        INTEGER NOT NULL,  -- Acked-by trailers, all patches
        reviews     INTEGER NOT NULL,  -- Reviewed-by trailers, all patches
        acked_patches INTEGER NOT NULL, -- patches with at least one Acked-by or Reviewed-by
        first_date  TEXT
      );
      CREATE INDEX series_queue_state ON series_queue (state, first_date, series_id);
      CREATE INDEX series_queue_list ON series_queue (list, first_date, series_id);
      CREATE INDEX series_queue_date ON series_queue (first_date, series_id);
      CREATE VIEW series_queue_v AS
        SELECT s.id AS series_id,
          CASE
            WHEN EXISTS (SELECT 1 FROM series n WHERE json_extract(n.doc, '$.previous') = s.id || '') THEN 'superseded'  -- || '': no affinity, so the index applies
            WHEN s.received_all = 0 THEN 'incomplete'
            WHEN r.state IS NULL OR r.state = 'cancelled' THEN 'new'
            WHEN r.state = 'queued' THEN 'queued'
            WHEN r.state = 'running' THEN CASE
              WHEN EXISTS (SELECT 1 FROM outcomes o WHERE o.series_id = s.id AND o.version = s.version AND o.stage = 'build') THEN 'testing'
              WHEN EXISTS (SELECT 1 FROM outcomes o WHERE o.series_id = s.id AND o.version = s.version AND o.stage = 'apply'
                           AND o.status IN ('success', 'warning')) THEN 'building'
              ELSE 'queued' END
            WHEN r.verdict IN ('failure', 'conflict') THEN 'failed'
            WHEN r.verdict IN ('success', 'warning') THEN CASE
              WHEN r.last_stage = 'apply' THEN 'applied'
              WHEN EXISTS (SELECT 1 FROM json_each(s.doc, '$.patches') p WHERE NOT EXISTS (SELECT 1 FROM json_each(p.value, '$.trailers') tr
                           WHERE lower(json_extract(tr.value, '$.name')) IN ('acked-by', 'reviewed-by'))) THEN 'needs-ack'
              ELSE 'passed' END
            ELSE 'new'
          END AS state,
          (SELECT coalesce(json_extract(m.parsed, '$.listId'), CASE WHEN m.source GLOB '*[/#]*' THEN NULL ELSE m.source END) FROM messages m
            WHERE m.msgid = coalesce(json_extract(s.doc, '$.cover'), json_extract(s.doc, '$.patches[0].msgid'))
            ORDER BY m.seq LIMIT 1) AS list,
          (SELECT count(*) FROM json_each(s.doc, '$.patches')) AS patches,
          (SELECT count(*) FROM json_each(s.doc, '$.patches') p, json_each(p.value, '$.trailers') tr
            WHERE lower(json_extract(tr.value, '$.name')) = 'acked-by') AS acks,
          (SELECT count(*) FROM json_each(s.doc, '$.patches') p, json_each(p.value, '$.trailers') tr
            WHERE lower(json_extract(tr.value, '$.name')) = 'reviewed-by') AS reviews,
          (SELECT count(*) FROM json_each(s.doc, '$.patches') p WHERE EXISTS (SELECT 1 FROM json_each(p.value, '$.trailers') tr
            WHERE lower(json_extract(tr.value, '$.name')) IN ('acked-by', 'reviewed-by'))) AS acked_patches,
          s.first_date
        FROM series s
        LEFT JOIN runs r ON r.series_id = s.id AND r.version = s.version;
      -- DELETE + INSERT, not INSERT OR REPLACE: a trigger fired by an UPSERT (queueRun, saveOutcome,
      -- saveSeriesDocument) takes the outer statement's conflict policy, and REPLACE would abort there.
      CREATE TRIGGER series_queue_series_ins AFTER INSERT ON series BEGIN
        DELETE FROM series_queue WHERE series_id = NEW.id;
        INSERT INTO series_queue SELECT * FROM series_queue_v WHERE series_id = NEW.id;
        DELETE FROM series_queue WHERE series_id = json_extract(NEW.doc, '$.previous');
        INSERT INTO series_queue SELECT * FROM series_queue_v WHERE series_id = json_extract(NEW.doc, '$.previous');
      END;
      CREATE TRIGGER series_queue_series_upd AFTER UPDATE ON series BEGIN
        DELETE FROM series_queue WHERE series_id = NEW.id;
        INSERT INTO series_queue SELECT * FROM series_queue_v WHERE series_id = NEW.id;
        DELETE FROM series_queue WHERE series_id = json_extract(NEW.doc, '$.previous');
        INSERT INTO series_queue SELECT * FROM series_queue_v WHERE series_id = json_extract(NEW.doc, '$.previous');
        DELETE FROM series_queue WHERE series_id = json_extract(OLD.doc, '$.previous');
        INSERT INTO series_queue SELECT * FROM series_queue_v WHERE series_id = json_extract(OLD.doc, '$.previous');
      END;
      CREATE TRIGGER series_queue_series_del AFTER DELETE ON series BEGIN
        DELETE FROM series_queue WHERE series_id = OLD.id;
        DELETE FROM series_queue WHERE series_id = json_extract(OLD.doc, '$.previous');
        INSERT INTO series_queue SELECT * FROM series_queue_v WHERE series_id = json_extract(OLD.doc, '$.previous');
      END;
      CREATE TRIGGER series_queue_runs_ins AFTER INSERT ON runs BEGIN
        DELETE FROM series_queue WHERE series_id = NEW.series_id;
        INSERT INTO series_queue SELECT * FROM series_queue_v WHERE series_id = NEW.series_id;
      END;
      CREATE TRIGGER series_queue_runs_upd AFTER UPDATE ON runs BEGIN
        DELETE FROM series_queue WHERE series_id = NEW.series_id;
        INSERT INTO series_queue SELECT * FROM series_queue_v WHERE series_id = NEW.series_id;
      END;
      CREATE TRIGGER series_queue_runs_del AFTER DELETE ON runs BEGIN
        DELETE FROM series_queue WHERE series_id = OLD.series_id;
        INSERT INTO series_queue SELECT * FROM series_queue_v WHERE series_id = OLD.series_id;
      END;
      CREATE TRIGGER series_queue_outcomes_ins AFTER INSERT ON outcomes WHEN NEW.stage IN ('apply', 'build') BEGIN
        DELETE FROM series_queue WHERE series_id = NEW.series_id;
        INSERT INTO series_queue SELECT * FROM series_queue_v WHERE series_id = NEW.series_id;
      END;
      CREATE TRIGGER series_queue_outcomes_upd AFTER UPDATE ON outcomes WHEN NEW.stage IN ('apply', 'build') BEGIN
        DELETE FROM series_queue WHERE series_id = NEW.series_id;
        INSERT INTO series_queue SELECT * FROM series_queue_v WHERE series_id = NEW.series_id;
      END;
      CREATE TRIGGER series_queue_outcomes_del AFTER DELETE ON outcomes WHEN OLD.stage IN ('apply', 'build') BEGIN
        DELETE FROM series_queue WHERE series_id = OLD.series_id;
        INSERT INTO series_queue SELECT * FROM series_queue_v WHERE series_id = OLD.series_id;
      END;
      INSERT INTO series_queue SELECT * FROM series_queue_v;
    `,
  },
  {
    id: 7,
    name: 'commands by mail: each command line, acknowledged or refused, and the overrides they set',
    sql: `
      CREATE TABLE commands (
        msgid       TEXT NOT NULL,                     -- the reply that carried the command
        line        INTEGER NOT NULL,                  -- its line number in the body (1-based)
        series_id   TEXT,
        version     INTEGER,
        sender      TEXT NOT NULL,                     -- lower-case From address
        command     TEXT NOT NULL,                     -- retest | tree | skip | superseded | ... (as written)
        argument    TEXT,
        state       TEXT NOT NULL,                     -- accepted | refused
        reason      TEXT NOT NULL,                     -- the acknowledgement or why it was refused
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        PRIMARY KEY (msgid, line)
      );
      CREATE INDEX commands_series ON commands (series_id, version);
      CREATE TABLE series_overrides (
        series_id   TEXT NOT NULL,
        key         TEXT NOT NULL,                     -- tree | skip:<gate> | superseded
        value       TEXT NOT NULL,
        msgid       TEXT NOT NULL,                     -- the command's message
        sender      TEXT NOT NULL,
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        PRIMARY KEY (series_id, key)
      );
    `,
  },
  {
    id: 8,
    name: 'dashboard: maintainers\' superseded marks (series_overrides) in the queue state, the shown name to sort by',
    sql: `
      -- A series a maintainer marked superseded (by mail, \`patchgate: superseded\`, or on the dashboard) is
      -- superseded in the queue; the queue sorts by the name it shows (the series name, else patch 1's).
      DROP INDEX IF EXISTS series_name;
      ALTER TABLE series_queue ADD COLUMN name TEXT;
      CREATE INDEX series_queue_name ON series_queue (name COLLATE NOCASE, first_date, series_id);
      DROP VIEW series_queue_v;
      CREATE VIEW series_queue_v AS
        SELECT s.id AS series_id,
          CASE
            WHEN EXISTS (SELECT 1 FROM series n WHERE json_extract(n.doc, '$.previous') = s.id || '') THEN 'superseded'  -- || '': no affinity, so the index applies
            WHEN EXISTS (SELECT 1 FROM series_overrides v WHERE v.series_id = s.id AND v.key = 'superseded') THEN 'superseded'
            WHEN s.received_all = 0 THEN 'incomplete'
            WHEN r.state IS NULL OR r.state = 'cancelled' THEN 'new'
            WHEN r.state = 'queued' THEN 'queued'
            WHEN r.state = 'running' THEN CASE
              WHEN EXISTS (SELECT 1 FROM outcomes o WHERE o.series_id = s.id AND o.version = s.version AND o.stage = 'build') THEN 'testing'
              WHEN EXISTS (SELECT 1 FROM outcomes o WHERE o.series_id = s.id AND o.version = s.version AND o.stage = 'apply'
                           AND o.status IN ('success', 'warning')) THEN 'building'
              ELSE 'queued' END
            WHEN r.verdict IN ('failure', 'conflict') THEN 'failed'
            WHEN r.verdict IN ('success', 'warning') THEN CASE
              WHEN r.last_stage = 'apply' THEN 'applied'
              WHEN EXISTS (SELECT 1 FROM json_each(s.doc, '$.patches') p WHERE NOT EXISTS (SELECT 1 FROM json_each(p.value, '$.trailers') tr
                           WHERE lower(json_extract(tr.value, '$.name')) IN ('acked-by', 'reviewed-by'))) THEN 'needs-ack'
              ELSE 'passed' END
            ELSE 'new'
          END AS state,
          (SELECT coalesce(json_extract(m.parsed, '$.listId'), CASE WHEN m.source GLOB '*[/#]*' THEN NULL ELSE m.source END) FROM messages m
            WHERE m.msgid = coalesce(json_extract(s.doc, '$.cover'), json_extract(s.doc, '$.patches[0].msgid'))
            ORDER BY m.seq LIMIT 1) AS list,
          (SELECT count(*) FROM json_each(s.doc, '$.patches')) AS patches,
          (SELECT count(*) FROM json_each(s.doc, '$.patches') p, json_each(p.value, '$.trailers') tr
            WHERE lower(json_extract(tr.value, '$.name')) = 'acked-by') AS acks,
          (SELECT count(*) FROM json_each(s.doc, '$.patches') p, json_each(p.value, '$.trailers') tr
            WHERE lower(json_extract(tr.value, '$.name')) = 'reviewed-by') AS reviews,
          (SELECT count(*) FROM json_each(s.doc, '$.patches') p WHERE EXISTS (SELECT 1 FROM json_each(p.value, '$.trailers') tr
            WHERE lower(json_extract(tr.value, '$.name')) IN ('acked-by', 'reviewed-by'))) AS acked_patches,
          s.first_date,
          coalesce(s.name, json_extract(s.doc, '$.patches[0].name')) AS name
        FROM series s
        LEFT JOIN runs r ON r.series_id = s.id AND r.version = s.version;
      CREATE TRIGGER series_queue_overrides_ins AFTER INSERT ON series_overrides WHEN NEW.key = 'superseded' BEGIN
        DELETE FROM series_queue WHERE series_id = NEW.series_id;
        INSERT INTO series_queue SELECT * FROM series_queue_v WHERE series_id = NEW.series_id;
      END;
      CREATE TRIGGER series_queue_overrides_upd AFTER UPDATE ON series_overrides WHEN NEW.key = 'superseded' OR OLD.key = 'superseded' BEGIN
        DELETE FROM series_queue WHERE series_id = NEW.series_id;
        INSERT INTO series_queue SELECT * FROM series_queue_v WHERE series_id = NEW.series_id;
        DELETE FROM series_queue WHERE series_id = OLD.series_id;
        INSERT INTO series_queue SELECT * FROM series_queue_v WHERE series_id = OLD.series_id;
      END;
      CREATE TRIGGER series_queue_overrides_del AFTER DELETE ON series_overrides WHEN OLD.key = 'superseded' BEGIN
        DELETE FROM series_queue WHERE series_id = OLD.series_id;
        INSERT INTO series_queue SELECT * FROM series_queue_v WHERE series_id = OLD.series_id;
      END;
      DELETE FROM series_queue;
      INSERT INTO series_queue SELECT * FROM series_queue_v;
    `,
  },
  {
    id: 9,
    name: 'HEAD runs: every sample with its commit, detected changes, bisections, functional cell results',
    sql: `
      CREATE TABLE head_runs (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        tree        TEXT NOT NULL,
        commit_id   TEXT NOT NULL,                     -- the HEAD measured
        branch      TEXT,
        trigger     TEXT NOT NULL,                     -- schedule | cli | web | mail | test
        status      TEXT NOT NULL,                     -- running | success | failure | skipped
        accel       TEXT,
        note        TEXT,
        data        TEXT NOT NULL DEFAULT '{}',        -- JSON: build, cells not run with their reasons, wall rates
        started_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        finished_at TEXT
      );
      CREATE INDEX head_runs_tree ON head_runs (tree, id);
      CREATE TABLE head_samples (
        run_id      INTEGER NOT NULL REFERENCES head_runs (id) ON DELETE CASCADE,
        commit_id   TEXT NOT NULL,
        cell        TEXT NOT NULL,
        metric      TEXT NOT NULL,
        boot        INTEGER NOT NULL,
        value       REAL NOT NULL,
        PRIMARY KEY (run_id, metric, boot)
      );
      CREATE INDEX head_samples_commit ON head_samples (commit_id, metric);
      CREATE TABLE head_changes (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        tree        TEXT NOT NULL,
        metric      TEXT NOT NULL,
        from_run    INTEGER NOT NULL REFERENCES head_runs (id),
        to_run      INTEGER NOT NULL REFERENCES head_runs (id),
        verdict     TEXT NOT NULL,                     -- regression | improvement | no-change | noisy
        change      REAL NOT NULL,
        low         REAL NOT NULL,
        high        REAL NOT NULL,
        p           REAL NOT NULL,
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        UNIQUE (from_run, to_run, metric)
      );
      CREATE TABLE bisections (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        tree        TEXT NOT NULL,
        metric      TEXT NOT NULL,
        change_id   INTEGER REFERENCES head_changes (id),
        good        TEXT NOT NULL,
        bad         TEXT NOT NULL,
        state       TEXT NOT NULL,                     -- running | found | not-reproduced | failed
        culprit     TEXT,
        subject     TEXT,
        change      REAL,
        low         REAL,
        high        REAL,
        steps       INTEGER,
        retries     INTEGER,
        bound       INTEGER,
        range_size  INTEGER,
        data        TEXT NOT NULL DEFAULT '{}',        -- JSON: the steps with their samples, the summary
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        finished_at TEXT
      );
      CREATE INDEX bisections_tree ON bisections (tree, id);
      CREATE TABLE cell_results (
        tree        TEXT NOT NULL,
        cell        TEXT NOT NULL,
        run_id      INTEGER NOT NULL,
        commit_id   TEXT NOT NULL,
        attempt     INTEGER NOT NULL,                  -- 1, or 2 for the retry of a failure
        status      TEXT NOT NULL,                     -- success | failure
        detail      TEXT,
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        PRIMARY KEY (tree, cell, run_id, attempt)
      );
    `,
  },
  {
    id: 10,
    name: 'messages: a slim copy of each parsed message for series assembly (no duplicated text of patches)',
    sql: `
      -- The series engine needs headers, trailers, dependencies and diffs, not the text of a patch three times
      -- (body, message, amText). NULL means "use parsed" (rows stored before this migration).
      ALTER TABLE messages ADD COLUMN core TEXT;
    `,
  },
  {
    id: 11,
    name: 'merged series: the commits of a tree\'s branch holding every patch, the state `merged` in the queue',
    sql: `
      -- A revision is merged when every patch of it is in a tree's branch (src/trees/merged.ts, after a mirror
      -- fetch): by patch-id, else by subject and author address. Superseded stays superseded (checked first).
      CREATE TABLE series_merges (
        series_id   TEXT PRIMARY KEY,
        version     INTEGER NOT NULL,
        tree        TEXT NOT NULL,                     -- the tree whose branch holds it
        branch      TEXT,
        head        TEXT,                              -- the branch's tip when it was found
        commits     TEXT NOT NULL,                     -- JSON, patch order: [{ msgid, commit, how }]
        how         TEXT NOT NULL,                     -- patch-id | subject+author | mixed (both kinds)
        committed_at TEXT,                             -- committer date of the newest of its commits
        detected_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
      );
      CREATE INDEX series_merges_tree ON series_merges (tree, detected_at);
      CREATE TABLE tree_merge_scans (
        tree        TEXT PRIMARY KEY,
        head        TEXT NOT NULL,                     -- the branch tip the last scan looked at
        scanned_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
      );
      DROP VIEW series_queue_v;
      CREATE VIEW series_queue_v AS
        SELECT s.id AS series_id,
          CASE
            WHEN EXISTS (SELECT 1 FROM series n WHERE json_extract(n.doc, '$.previous') = s.id || '') THEN 'superseded'  -- || '': no affinity, so the index applies
            WHEN EXISTS (SELECT 1 FROM series_overrides v WHERE v.series_id = s.id AND v.key = 'superseded') THEN 'superseded'
            WHEN EXISTS (SELECT 1 FROM series_merges mg WHERE mg.series_id = s.id) THEN 'merged'
            WHEN s.received_all = 0 THEN 'incomplete'
            WHEN r.state IS NULL OR r.state = 'cancelled' THEN 'new'
            WHEN r.state = 'queued' THEN 'queued'
            WHEN r.state = 'running' THEN CASE
              WHEN EXISTS (SELECT 1 FROM outcomes o WHERE o.series_id = s.id AND o.version = s.version AND o.stage = 'build') THEN 'testing'
              WHEN EXISTS (SELECT 1 FROM outcomes o WHERE o.series_id = s.id AND o.version = s.version AND o.stage = 'apply'
                           AND o.status IN ('success', 'warning')) THEN 'building'
              ELSE 'queued' END
            WHEN r.verdict IN ('failure', 'conflict') THEN 'failed'
            WHEN r.verdict IN ('success', 'warning') THEN CASE
              WHEN r.last_stage = 'apply' THEN 'applied'
              WHEN EXISTS (SELECT 1 FROM json_each(s.doc, '$.patches') p WHERE NOT EXISTS (SELECT 1 FROM json_each(p.value, '$.trailers') tr
                           WHERE lower(json_extract(tr.value, '$.name')) IN ('acked-by', 'reviewed-by'))) THEN 'needs-ack'
              ELSE 'passed' END
            ELSE 'new'
          END AS state,
          (SELECT coalesce(json_extract(m.parsed, '$.listId'), CASE WHEN m.source GLOB '*[/#]*' THEN NULL ELSE m.source END) FROM messages m
            WHERE m.msgid = coalesce(json_extract(s.doc, '$.cover'), json_extract(s.doc, '$.patches[0].msgid'))
            ORDER BY m.seq LIMIT 1) AS list,
          (SELECT count(*) FROM json_each(s.doc, '$.patches')) AS patches,
          (SELECT count(*) FROM json_each(s.doc, '$.patches') p, json_each(p.value, '$.trailers') tr
            WHERE lower(json_extract(tr.value, '$.name')) = 'acked-by') AS acks,
          (SELECT count(*) FROM json_each(s.doc, '$.patches') p, json_each(p.value, '$.trailers') tr
            WHERE lower(json_extract(tr.value, '$.name')) = 'reviewed-by') AS reviews,
          (SELECT count(*) FROM json_each(s.doc, '$.patches') p WHERE EXISTS (SELECT 1 FROM json_each(p.value, '$.trailers') tr
            WHERE lower(json_extract(tr.value, '$.name')) IN ('acked-by', 'reviewed-by'))) AS acked_patches,
          s.first_date,
          coalesce(s.name, json_extract(s.doc, '$.patches[0].name')) AS name
        FROM series s
        LEFT JOIN runs r ON r.series_id = s.id AND r.version = s.version;
      CREATE TRIGGER series_queue_merges_ins AFTER INSERT ON series_merges BEGIN
        DELETE FROM series_queue WHERE series_id = NEW.series_id;
        INSERT INTO series_queue SELECT * FROM series_queue_v WHERE series_id = NEW.series_id;
      END;
      CREATE TRIGGER series_queue_merges_upd AFTER UPDATE ON series_merges BEGIN
        DELETE FROM series_queue WHERE series_id = NEW.series_id;
        INSERT INTO series_queue SELECT * FROM series_queue_v WHERE series_id = NEW.series_id;
        DELETE FROM series_queue WHERE series_id = OLD.series_id;
        INSERT INTO series_queue SELECT * FROM series_queue_v WHERE series_id = OLD.series_id;
      END;
      CREATE TRIGGER series_queue_merges_del AFTER DELETE ON series_merges BEGIN
        DELETE FROM series_queue WHERE series_id = OLD.series_id;
        INSERT INTO series_queue SELECT * FROM series_queue_v WHERE series_id = OLD.series_id;
      END;
      DELETE FROM series_queue;
      INSERT INTO series_queue SELECT * FROM series_queue_v;
    `,
  },
  {
    id: 12,
    name: 'outbox: who approved a held (dry-run) reply for sending, and when',
    sql: `
      -- approveHeldReply (src/report/outbox.ts): a maintainer moves a dry-run reply to pending.
      ALTER TABLE outbox ADD COLUMN approved_by TEXT;
      ALTER TABLE outbox ADD COLUMN approved_at TEXT;
    `,
  },
  {
    id: 16,
    name: 'patchwork: the state of each patch, and series whose patches are all accepted',
    sql: `
      -- The patchwork source keeps each patch's state (patch-state-changed events, then the series' patch list);
      -- a series whose patches are all accepted marks the revision patchgate assembled from them merged
      -- (series_merges, how = 'patchwork accepted'; src/ingest/source-patchwork.ts).
      ALTER TABLE patchwork_patches ADD COLUMN state TEXT;              -- patchwork's state slug (new, accepted ...)
      ALTER TABLE patchwork_patches ADD COLUMN commit_ref TEXT;         -- the commit patchwork names, if any
      ALTER TABLE patchwork_series ADD COLUMN accepted_at TEXT;         -- when every patch was seen accepted
      ALTER TABLE patchwork_series ADD COLUMN merged_series TEXT;       -- the patchgate revision recorded merged for it
      CREATE INDEX patchwork_patches_series ON patchwork_patches (source, series_id);
      CREATE INDEX patchwork_series_accepted ON patchwork_series (source, accepted_at) WHERE merged_series IS NULL;
    `,
  },
];
