// Projects (config/projects.yaml): the KVM networking TODO items, each with path globs and subject patterns.
// Which series belong to which project is kept in a TEMP table of the dashboard's own connection, refreshed
// incrementally from series.updated_at, so the queue filters on it in SQL.
import { globToRegExp } from '../settings/glob.js';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { Series } from '../series/types.js';
import type { Db } from '../store/db.js';

export const projectSchema = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  title: z.string(),
  todo: z.string().optional(),
  paths: z.array(z.string()).default([]),
  subjects: z.array(z.string()).default([]),
  metrics: z.array(z.string()).default([]),
});
export const projectsFileSchema = z.object({ projects: z.array(projectSchema).default([]) });
export type ProjectConfig = z.infer<typeof projectSchema>;

export interface Project extends ProjectConfig {
  pathRes: RegExp[];
  subjectRes: RegExp[];
}

export { globToRegExp };

export function compileProjects(configs: ProjectConfig[]): Project[] {
  return configs.map((p) => ({ ...p, pathRes: p.paths.map(globToRegExp), subjectRes: p.subjects.map((s) => new RegExp(s, 'i')) }));
}

export function loadProjects(file: string): Project[] {
  const parsed = projectsFileSchema.safeParse(parseYaml(readFileSync(file, 'utf8')) ?? {});
  if (!parsed.success) throw new Error(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return compileProjects(parsed.data.projects);
}

/** Every criterion the project gives must match: some file against some glob, some name against some pattern. */
export function matchesProject(p: Project, s: Series): boolean {
  if (p.pathRes.length === 0 && p.subjectRes.length === 0) return false;
  if (p.pathRes.length && !s.patches.some((pt) => pt.files.some((f) => p.pathRes.some((re) => re.test(f))))) return false;
  if (p.subjectRes.length) {
    const names = [s.name ?? '', ...s.patches.map((pt) => pt.name)];
    if (!names.some((n) => p.subjectRes.some((re) => re.test(n)))) return false;
  }
  return true;
}

export function ensureProjectTable(db: Db): void {
  db.exec(`CREATE TEMP TABLE IF NOT EXISTS series_project (project TEXT NOT NULL, series_id TEXT NOT NULL, PRIMARY KEY (project, series_id)) WITHOUT ROWID;
           CREATE INDEX IF NOT EXISTS temp.series_project_id ON series_project (series_id, project);`);
}

/** Keeps temp.series_project current for one connection. */
export class ProjectIndex {
  private seen = '';
  /** ids already matched whose updated_at is exactly `seen` */
  private atSeen = new Set<string>();
  private count = -1;

  constructor(private readonly db: Db, readonly projects: Project[]) {
    ensureProjectTable(db);
  }

  /** Matches the series written since the last call (all of them the first time). */
  refresh(): void {
    const { db } = this;
    const count = db.prepare('SELECT count(*) FROM series').pluck().get() as number;
    if (count < this.count) {
      // series were deleted: start over
      db.exec('DELETE FROM temp.series_project');
      this.seen = '';
      this.atSeen.clear();
    }
    this.count = count;
    const rows = (db.prepare('SELECT id, doc, updated_at FROM series WHERE updated_at >= ? ORDER BY updated_at').all(this.seen) as
      { id: string; doc: string; updated_at: string }[]).filter((r) => !(r.updated_at === this.seen && this.atSeen.has(r.id)));
    if (rows.length === 0) return;
    const del = db.prepare('DELETE FROM temp.series_project WHERE series_id = ?');
    const ins = db.prepare('INSERT OR IGNORE INTO temp.series_project (project, series_id) VALUES (?, ?)');
    db.transaction(() => {
      for (const r of rows) {
        del.run(r.id);
        const s = JSON.parse(r.doc) as Series;
        for (const p of this.projects) if (matchesProject(p, s)) ins.run(p.id, r.id);
      }
    })();
    const lastAt = rows[rows.length - 1].updated_at;
    if (lastAt !== this.seen) this.atSeen.clear();
    this.seen = lastAt;
    for (const r of rows) if (r.updated_at === lastAt) this.atSeen.add(r.id);
  }

  private byId: ReturnType<Db['prepare']> | null = null;

  projectsOf(seriesId: string): string[] {
    this.byId ??= this.db.prepare('SELECT project FROM temp.series_project WHERE series_id = ? ORDER BY project').pluck();
    return this.byId.all(seriesId) as string[];
  }
}

export interface ProjectSeriesPoint {
  id: string;
  name: string | null;
  version: number;
  date: string | null;
  state: string;
}

export interface MetricPoint {
  seriesId: string;
  version: number;
  name: string | null;
  date: string;
  change: number;
  low: number;
  high: number;
  verdict: string;
}

export interface ProjectSummary {
  project: Project;
  series: ProjectSeriesPoint[];
  states: Record<string, number>;
  metrics: Record<string, MetricPoint[]>;
}

/** A project's series (oldest first) and the history of its key metrics from the perf gate. */
export function projectSummary(db: Db, project: Project): ProjectSummary {
  const series = db.prepare(`SELECT s.id, s.name, s.version, s.first_date AS date, q.state FROM temp.series_project sp
      JOIN series s ON s.id = sp.series_id JOIN series_queue q ON q.series_id = s.id
      WHERE sp.project = ? ORDER BY s.first_date, s.id`).all(project.id) as ProjectSeriesPoint[];
  const states: Record<string, number> = {};
  for (const s of series) states[s.state] = (states[s.state] ?? 0) + 1;
  const metrics: Record<string, MetricPoint[]> = {};
  for (const m of project.metrics) metrics[m] = [];
  if (project.metrics.length) {
    const perf = db.prepare(`SELECT s.id, s.name, o.version, coalesce(s.first_date, o.updated_at) AS date, o.data FROM temp.series_project sp
        JOIN series s ON s.id = sp.series_id JOIN outcomes o ON o.series_id = s.id AND o.stage = 'gate:perf'
        WHERE sp.project = ? ORDER BY date`).all(project.id) as { id: string; name: string | null; version: number; date: string; data: string }[];
    for (const r of perf) {
      const ms = perfMetrics(JSON.parse(r.data));
      for (const m of project.metrics) {
        const v = ms[m];
        if (v && Number.isFinite(v.change)) metrics[m].push({ seriesId: r.id, version: r.version, name: r.name, date: r.date, change: v.change, low: v.low, high: v.high, verdict: v.verdict });
      }
    }
  }
  return { project, series, states, metrics };
}

export interface PerfMetric {
  change: number;
  low: number;
  high: number;
  p?: number;
  verdict: string;
}

export interface PerfData {
  metrics: Record<string, PerfMetric>;
  samples: { baseline: Record<string, number[]>; candidate: Record<string, number[]> } | null;
}

/** The perf gate's stored data, wherever the stage put it (top level or under details). */
export function perfData(data: unknown): PerfData {
  const d = (data ?? {}) as Record<string, unknown>;
  const inner = (d.details && typeof d.details === 'object' && !Array.isArray(d.details) ? d.details : {}) as Record<string, unknown>;
  const metrics = (d.metrics ?? inner.metrics ?? {}) as Record<string, PerfMetric>;
  const samples = (d.samples ?? inner.samples ?? null) as PerfData['samples'];
  return { metrics, samples: samples && samples.baseline && samples.candidate ? samples : null };
}

function perfMetrics(data: unknown): Record<string, PerfMetric> {
  return perfData(data).metrics;
}
