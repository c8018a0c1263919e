// Plain-text wrapping for mail: every line at most WIDTH columns, broken at spaces, continuation lines keep
// the line's leading indentation and quote marker. A single word longer than WIDTH (a URL) is kept whole on
// its own line rather than broken, as mail clients would otherwise break the link.

export const MAIL_WIDTH = 72;

function wrapLine(line: string, width: number): string[] {
  if (line.length <= width || line === '-- ') return [line];
  const m = /^((?:> ?)*[ \t]*)/.exec(line);
  const prefix = m ? m[1] : '';
  // continuation lines get two more spaces than the line's own indentation
  const contPrefix = prefix.length + 2 < width / 2 ? prefix + '  ' : prefix;
  const out: string[] = [];
  let lead = prefix;
  let rest = line.slice(prefix.length);
  // break at the last space that fits, keeping the spacing inside each piece (aligned columns stay aligned)
  while (lead.length + rest.length > width) {
    const room = width - lead.length;
    let cut = rest.lastIndexOf(' ', room);
    while (cut > 0 && rest[cut - 1] === ' ') cut--;
    if (cut <= 0) {
      // one word longer than the room: keep it whole (a URL), break after it
      const next = rest.indexOf(' ', room);
      if (next < 0) break;
      cut = next;
    }
    out.push(lead + rest.slice(0, cut));
    rest = rest.slice(cut).replace(/^ +/, '');
    lead = contPrefix;
    if (rest === '') break;
  }
  if (rest !== '') out.push(lead + rest);
  return out;
}

/** Wraps TEXT so that no line exceeds WIDTH (except an unbreakable word); trailing spaces go, except in "-- ". */
export function wrapText(text: string, width = MAIL_WIDTH): string {
  return text
    .split('\n')
    .map((l) => (l === '-- ' ? l : l.replace(/[ \t]+$/, '')))
    .flatMap((l) => wrapLine(l, width))
    .join('\n');
}
