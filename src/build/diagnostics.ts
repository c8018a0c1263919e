// Compiler diagnostics from a build log: gcc and clang `file:line:col: severity: message [-Wflag]`,
// linker `undefined reference` errors and tool warnings without a line (`vmlinux.o: warning: objtool: ...`).
//
// Kbuild prints one quiet line per target (`  CC      drivers/net/tun.o`). Run with make's
// --output-sync=target, a target's compiler output directly follows its quiet line, so each
// diagnostic is attributed to the compile unit (the object) that printed it.

export type Severity = 'warning' | 'error';

export interface Diagnostic {
  /** path relative to the source tree (`drivers/net/tun.c`), or as printed when outside it */
  file: string;
  /** 1-based; 0 when the tool gives none */
  line: number;
  /** 1-based; 0 when the tool gives none */
  column: number;
  severity: Severity;
  /** `-Wunused-variable` (from `[-Wunused-variable]` or `[-Werror=unused-variable]`), or null */
  flag: string | null;
  /** the message without the flag suffix, quotes normalised to ASCII */
  message: string;
  /** the object being built when it was printed (`drivers/net/tun.o`), or null */
  unit: string | null;
}

export interface ParseOptions {
  /** absolute source directory: its prefix is stripped from paths */
  srcDir?: string;
  /** absolute output directory (O=): its prefix is stripped from paths */
  outDir?: string;
}

export interface ParsedLog {
  diagnostics: Diagnostic[];
  /** objects the build (re)compiled, in order (from Kbuild's quiet lines) */
  units: string[];
  /** make's own failure lines (`make[2]: *** [...] Error 1`) */
  makeErrors: string[];
}

// `  CC      drivers/net/tun.o`, `  CC [M]  drivers/net/tun.o`, `  AS      arch/x86/entry/entry_64.o`
const QUIET = /^ {2}([A-Z][A-Z0-9_]*(?: \[M\])?)\s+(\S+)$/;
/** quiet-line tags of steps that compile one object (their output belongs to that object) */
const COMPILE_TAGS = new Set(['CC', 'CC [M]', 'AS', 'AS [M]', 'CXX', 'HOSTCC', 'HOSTCXX']);
const GCC = /^(?<file>[^\s:][^:]*?):(?<line>\d+):(?:(?<col>\d+):)?\s+(?<sev>warning|error|fatal error):\s+(?<msg>.*)$/;
const NOLINE = /^(?<file>[^\s:][^:]*?):\s+(?<sev>warning|error):\s+(?<msg>.*)$/;
const UNDEF = /^(?<file>[^\s:][^:]*?):\(\.[^)]*\):\s+(?<msg>(?:undefined reference to|multiple definition of) .*)$/;
const FLAG = /\s+\[(-W[^\]]+|enabled by default)\]$/;
const MAKE_ERROR = /^make(\[\d+\])?: \*\*\* /;
const NOT_FILES = new Set(['make', 'cc1', 'cc1plus', 'gcc', 'clang', 'collect2']);

function normaliseQuotes(s: string): string {
  return s.replace(/[\u2018\u2019]/g, "'").replace(/[\u201c\u201d]/g, '"');
}

/** Strips the source or output directory prefix and `./` from a path. */
export function relativePath(file: string, opts: ParseOptions = {}): string {
  let f = file.trim();
  for (const dir of [opts.srcDir, opts.outDir]) {
    if (!dir) continue;
    const prefix = dir.endsWith('/') ? dir : `${dir}/`;
    if (f.startsWith(prefix)) {
      f = f.slice(prefix.length);
      break;
    }
  }
  while (f.startsWith('./')) f = f.slice(2);
  return f;
}

function splitFlag(message: string): { message: string; flag: string | null; werror: boolean } {
  const m = FLAG.exec(message);
  if (!m) return { message: message.trim(), flag: null, werror: false };
  let flag: string | null = m[1] === 'enabled by default' ? null : m[1];
  let werror = false;
  if (flag?.startsWith('-Werror=')) {
    flag = `-W${flag.slice('-Werror='.length)}`;
    werror = true;
  }
  return { message: message.slice(0, m.index).trim(), flag, werror };
}

/** Parses a build log (stdout and stderr interleaved as make printed them). */
export function parseBuildLog(text: string, opts: ParseOptions = {}): ParsedLog {
  const diagnostics: Diagnostic[] = [];
  const units: string[] = [];
  const makeErrors: string[] = [];
  let unit: string | null = null;
  for (const raw of text.split('\n')) {
    const line = normaliseQuotes(raw.replace(/\r$/, '').replace(/\x1b\[[0-9;]*[mK]/g, ''));
    const q = QUIET.exec(line);
    if (q) {
      // any other step (LD, AR, GEN, HOSTCC, objtool's own runs ...) ends the previous object's output
      unit = COMPILE_TAGS.has(q[1]) ? relativePath(q[2], opts) : null;
      if (unit) units.push(unit);
      continue;
    }
    if (MAKE_ERROR.test(line)) {
      makeErrors.push(line.trim());
      continue;
    }
    let m = GCC.exec(line);
    if (m?.groups) {
      const { message, flag, werror } = splitFlag(m.groups.msg);
      diagnostics.push({
        file: relativePath(m.groups.file, opts),
        line: Number(m.groups.line),
        column: m.groups.col ? Number(m.groups.col) : 0,
        severity: m.groups.sev === 'warning' && !werror ? 'warning' : 'error',
        flag,
        message,
        unit,
      });
      continue;
    }
    m = UNDEF.exec(line);
    if (m?.groups) {
      diagnostics.push({ file: relativePath(m.groups.file, opts), line: 0, column: 0, severity: 'error', flag: null, message: m.groups.msg.trim(), unit });
      continue;
    }
    m = NOLINE.exec(line);
    if (m?.groups && !NOT_FILES.has(m.groups.file) && !m.groups.file.includes(' ')) {
      const { message, flag, werror } = splitFlag(m.groups.msg);
      diagnostics.push({
        file: relativePath(m.groups.file, opts),
        line: 0,
        column: 0,
        severity: m.groups.sev === 'warning' && !werror ? 'warning' : 'error',
        flag,
        message,
        unit,
      });
    }
  }
  return { diagnostics, units, makeErrors };
}

/** Identity of a diagnostic at one position (units dropped: a header warning printed by 40 objects is one warning). */
export function diagnosticKey(d: Diagnostic): string {
  return `${d.severity}\0${d.file}\0${d.line}\0${d.column}\0${d.flag ?? ''}\0${d.message}`;
}

/** Drops repeats of the same diagnostic (same place, flag and message) printed by several units. */
export function uniqueDiagnostics(list: Diagnostic[]): Diagnostic[] {
  const seen = new Map<string, Diagnostic>();
  for (const d of list) if (!seen.has(diagnosticKey(d))) seen.set(diagnosticKey(d), d);
  return [...seen.values()];
}

/** `drivers/net/tun.c:12:5: warning: unused variable 'x' [-Wunused-variable]` */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line ? `${d.file}:${d.line}${d.column ? `:${d.column}` : ''}` : d.file;
  return `${where}: ${d.severity}: ${d.message}${d.flag ? ` [${d.flag}]` : ''}`;
}
