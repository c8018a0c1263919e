// Subject lines: reply markers, `[PATCH net-next v3 2/5]` prefix groups, version, series marker.
// Pure: no I/O.
import type { SubjectInfo } from './types.js';
import { normaliseSpace } from './mime.js';

/** `Re:`, `RE:`, `Re `, `re `, `Re[2]:`, `Aw:`, `Sv:`, `Antw:`, `Odp:` at the start. */
const REPLY_RE = /^(?:re(?:\[\d+\])?[:\s]|(?:aw|sv|antw|odp|vs|ynt):)\s*/i;
/** `Fwd:` / `Fw:` is not a reply, but is not part of the name either. */
const FORWARD_RE = /^fwd?:\s*/i;
const GROUP_RE = /^\[([^\]]*)\]\s*/;
/** N/M or `N of M`, with anything in front of the numbers (`PATCH1/8`, `v2PATCH1/4`) */
const MARKER_RE = /^.*?(\d+)(?:\/| of )(\d+)$/i;
const VERSION_RE = /^v(\d+)$/i;
/** `PATCHv2`, `RFCv3`, `PATCH-v2`, `RESEND_v2` */
const WORD_VERSION_RE = /^(patch|rfc|resend)[-_]?v(\d+)$/i;
const PAREN_VERSION_RE = /\(v(\d+)\)/i;
const MAX_ROUNDS = 16;
const MAX_GROUPS = 32;

/** Splits one bracket group into tokens: commas and spaces separate, `N of M` stays one token. */
export function splitPrefixes(group: string): string[] {
  const words = group.split(/[,\s]+/).filter((w) => w !== '');
  const tokens: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (/\d$/.test(w) && words[i + 1]?.toLowerCase() === 'of' && /^\d+$/.test(words[i + 2] ?? '')) {
      tokens.push(`${w} of ${words[i + 2]}`);
      i += 2;
    } else {
      tokens.push(w);
    }
  }
  return tokens;
}

interface TokenFacts {
  patch: boolean;
  rfc: boolean;
  resend: boolean;
  version: number | null;
  marker: [number, number] | null;
}

function classify(token: string): TokenFacts {
  const facts: TokenFacts = { patch: false, rfc: false, resend: false, version: null, marker: null };
  const lower = token.toLowerCase();
  if (lower === 'patch') facts.patch = true;
  else if (lower === 'rfc') facts.rfc = true;
  else if (lower === 'resend') facts.resend = true;
  const v = VERSION_RE.exec(token);
  if (v) facts.version = Number(v[1]);
  const wv = WORD_VERSION_RE.exec(token);
  if (wv) {
    const word = wv[1].toLowerCase();
    facts.patch = word === 'patch';
    facts.rfc = word === 'rfc';
    facts.resend = word === 'resend';
    facts.version = Number(wv[2]);
  }
  const mk = MARKER_RE.exec(token);
  if (mk) facts.marker = [Number(mk[1]), Number(mk[2])];
  return facts;
}

function isPrefixWord(token: string): boolean {
  const f = classify(token);
  return f.patch || f.rfc || f.resend || f.version !== null || f.marker !== null;
}

/**
 * Breaks a subject into its prefix tokens and its name. Prefix groups are the leading `[...]`
 * groups (brackets later in the subject are part of the name: `[PATCH] rewrite [a-z] regexes`),
 * and an unbracketed leading `PATCH v2 RESEND 1/3:` run. A `:` left after the prefixes
 * (`[Patch]: foo`) is dropped, so the name is `foo`.
 */
export function parseSubject(subject: string): SubjectInfo {
  const raw = normaliseSpace(subject ?? '');
  let rest = raw;
  let isReply = false;
  const prefixes: string[] = [];

  // bounded: a subject made of thousands of `Re:` or `[x]` must not cost quadratic time
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const before = rest;
    // reply and forward markers count only in front of the prefixes
    if (prefixes.length === 0) {
      const re = REPLY_RE.exec(rest);
      if (re) {
        isReply = true;
        rest = rest.slice(re[0].length);
      }
      const fw = FORWARD_RE.exec(rest);
      if (fw) rest = rest.slice(fw[0].length);
    }
    let g: RegExpExecArray | null;
    let groups = 0;
    while (groups++ < MAX_GROUPS && (g = GROUP_RE.exec(rest)) !== null) {
      prefixes.push(...splitPrefixes(g[1]));
      rest = rest.slice(g[0].length);
    }
    // unbracketed `PATCH v2 RESEND 1/3: name` (also `PATCH: name`)
    const words = /^patch:?(?: |$)/i.test(rest) ? rest.slice(0, 200).split(' ') : [];
    if (words.length > 1 && /^patch:?$/i.test(words[0]) && (words[0] === 'PATCH' || words[0].endsWith(':') || isPrefixWord(words[1].replace(/:$/, '')))) {
      let k = 0;
      let ended = false;
      const run: string[] = [];
      while (k < words.length - 1 && !ended) {
        let w = words[k];
        if (w.endsWith(':')) {
          ended = true;
          w = w.slice(0, -1);
        }
        if (k > 0 && !isPrefixWord(w)) break;
        run.push(w);
        k++;
        // `1 of 3`
        if (!ended && /^\d+$/.test(w) && words[k] === 'of' && /^\d+:?$/.test(words[k + 1] ?? '')) {
          let total = words[k + 1];
          if (total.endsWith(':')) {
            ended = true;
            total = total.slice(0, -1);
          }
          run[run.length - 1] = `${w} of ${total}`;
          k += 2;
        }
      }
      prefixes.push(...run.filter((w) => w !== ''));
      rest = rest.split(' ').slice(k).join(' ');
    }
    rest = rest.replace(/^:\s*/, '');
    if (rest === before) break;
  }

  let version: number | null = null;
  let number: number | null = null;
  let total: number | null = null;
  let rfc = false;
  let resend = false;
  const tags: string[] = [];
  for (let i = 0; i < prefixes.length; i++) {
    const token = prefixes[i];
    const f = classify(token);
    if (f.rfc) rfc = true;
    if (f.resend) resend = true;
    if (f.version !== null && version === null) version = f.version;
    if (f.marker && number === null) [number, total] = f.marker;
    if (token.toLowerCase() === 'version' && /^\d+$/.test(prefixes[i + 1] ?? '')) {
      if (version === null) version = Number(prefixes[i + 1]);
      i++;
      continue;
    }
    if (!f.patch && !f.rfc && !f.resend && f.version === null && f.marker === null) tags.push(token.toLowerCase());
  }
  const name = normaliseSpace(rest);
  if (version === null) {
    const pv = PAREN_VERSION_RE.exec(name);
    if (pv) version = Number(pv[1]);
  }
  return {
    raw,
    name,
    prefixes,
    isReply,
    version: version ?? 1,
    versionExplicit: version !== null,
    number,
    total,
    rfc,
    resend,
    tags,
  };
}
