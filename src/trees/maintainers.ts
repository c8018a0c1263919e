// The kernel's MAINTAINERS file: parsing and file matching with scripts/get_maintainer.pl semantics.
//
// F: / X: are shell-ish patterns turned into an anchored-at-start regex: `*` is `.*`, `?` is `.`.
// A pattern ending in `/` matches everything below that directory; any other pattern matches only
// paths with the same number of `/` (so `virt/kvm/*` is the files in virt/kvm, not below). A pattern
// naming a directory without the trailing slash gets one (get_maintainer checks the disk; we ask
// `isDirectory`). X: entries are tested first and exclude the file from the section. N: is a regex
// searched in the whole path (perl /x: whitespace ignored). Sections are ranked like get_maintainer:
// deeper (more specific) F: matches first, N: matches at depth 0.

export interface MaintainersSection {
  /** the section title, e.g. `NETWORKING DRIVERS` */
  name: string;
  /** L: addresses (comments such as "(moderated for non-subscribers)" dropped), lower-case */
  lists: string[];
  /** T: values without the SCM type, e.g. `git://git.kernel.org/pub/scm/virt/kvm/kvm.git` */
  trees: string[];
  status: string | null;
  files: string[];
  excludes: string[];
  regexes: string[];
}

export interface SectionMatch {
  section: MaintainersSection;
  /** get_maintainer's pattern depth: higher is more specific; N: matches are 0 */
  depth: number;
  via: 'F' | 'N';
  /** the F: or N: value that matched */
  pattern: string;
}

export interface ParseMaintainersOptions {
  /** true when the path (no trailing slash) is a directory in the tree */
  isDirectory?: (path: string) => boolean;
}

const ENTRY = /^([A-Z]):\s*(.*)$/;

/** Splits MAINTAINERS text into sections. Text before the `Maintainers List` header is skipped when present. */
export function parseMaintainers(text: string, options: ParseMaintainersOptions = {}): MaintainersSection[] {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  let start = 0;
  const header = lines.findIndex((line, i) => line === 'Maintainers List' && /^-+$/.test(lines[i + 1] ?? ''));
  if (header >= 0) start = header + 2;

  const sections: MaintainersSection[] = [];
  let current: MaintainersSection | null = null;
  for (let i = start; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') {
      current = null;
      continue;
    }
    const entry = ENTRY.exec(line);
    if (entry && current) {
      const [, type, rawValue] = entry;
      const value = rawValue.trim();
      switch (type) {
        case 'L': {
          const address = /[^\s<>()]+@[^\s<>()]+/.exec(value);
          if (address) current.lists.push(address[0].toLowerCase());
          break;
        }
        case 'T':
          current.trees.push(value.replace(/^(git|hg|quilt|stgit|topgit)\s+/, '').trim());
          break;
        case 'S':
          current.status = value;
          break;
        case 'F':
          current.files.push(withDirectorySlash(value, options));
          break;
        case 'X':
          current.excludes.push(withDirectorySlash(value, options));
          break;
        case 'N':
          current.regexes.push(value);
          break;
        default:
          break;
      }
      continue;
    }
    if (!entry && !current && !/^\s/.test(line)) {
      current = { name: line.trim(), lists: [], trees: [], status: null, files: [], excludes: [], regexes: [] };
      sections.push(current);
    }
  }
  return sections;
}

function withDirectorySlash(pattern: string, options: ParseMaintainersOptions): string {
  if (pattern.endsWith('/') || /[*?]/.test(pattern) || !options.isDirectory) return pattern;
  return options.isDirectory(pattern) ? `${pattern}/` : pattern;
}

const regexCache = new Map<string, RegExp>();

function patternRegex(pattern: string): RegExp {
  let re = regexCache.get(pattern);
  if (!re) {
    const body = pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('');
    re = new RegExp(`^${body}`);
    regexCache.set(pattern, re);
  }
  return re;
}

function slashes(s: string): number {
  let n = 0;
  for (const c of s) if (c === '/') n++;
  return n;
}

/** get_maintainer.pl's file_match_pattern(). */
export function filePatternMatches(file: string, pattern: string): boolean {
  if (!patternRegex(pattern).test(file)) return false;
  if (pattern.endsWith('/')) return true;
  return slashes(file) === slashes(pattern);
}

function nRegex(value: string): RegExp | null {
  const key = `N:${value}`;
  let re = regexCache.get(key);
  if (!re) {
    try {
      // perl's /x: unescaped whitespace is not part of the pattern
      re = new RegExp(value.replace(/\\\s|\s+/g, (m) => (m.startsWith('\\') ? m : '')));
    } catch {
      return null;
    }
    regexCache.set(key, re);
  }
  return re;
}

/** Sections covering `file`, most specific first (ties keep file order). */
export function matchSections(sections: MaintainersSection[], file: string): SectionMatch[] {
  const matches: SectionMatch[] = [];
  for (const section of sections) {
    if (section.excludes.some((x) => filePatternMatches(file, x))) continue;
    let best: SectionMatch | null = null;
    for (const pattern of section.files) {
      if (!filePatternMatches(file, pattern)) continue;
      let depth = slashes(pattern);
      if (!pattern.endsWith('/')) depth++;
      if (pattern.startsWith('*')) depth = -1;
      if (!best || depth > best.depth) best = { section, depth, via: 'F', pattern };
    }
    if (!best) {
      for (const value of section.regexes) {
        if (nRegex(value)?.test(file)) {
          best = { section, depth: 0, via: 'N', pattern: value };
          break;
        }
      }
    }
    if (best) matches.push(best);
  }
  return matches.sort((a, b) => b.depth - a.depth);
}
