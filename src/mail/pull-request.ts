// `git request-pull` output in a mail body. Pure: no I/O.

// patchwork's expression (parser.py parse_pull_request), DOTALL | MULTILINE | IGNORECASE:
// matches both "git repository" and git >= 2.14.3's "Git repository" followed by a blank line,
// a URL wrapped onto the next line, and trailing spaces.
const PULL_RE =
  /^The following changes since commit.*^are available in the git repository at:\s*\n^\s*([\w+-]+(?::\/\/|@)[\w/.@:~-]+[\s\\]*[\w/._-]*)\s*$/ims;

const PULL_WINDOW = 8192;

/**
 * The `url branch` of a pull request found in text, whitespace (also a newline inside the URL)
 * collapsed to one space; null when the text is not a pull request.
 */
export function parsePullRequest(text: string): string | null {
  if (!/following changes since commit/i.test(text)) return null;
  const at = text.search(/^The following changes since commit/im);
  if (at < 0) return null;
  // git request-pull puts the URL a few lines below; a window keeps hostile input linear
  const m = PULL_RE.exec(text.slice(at, at + PULL_WINDOW));
  if (!m) return null;
  return m[1].replace(/\s+/g, ' ').trim() || null;
}
