// Mail inputs named on the command line: mbox files, single messages, maildirs, public-inbox git
// directories, or `-` for standard input. Each yields raw messages in the order a live bot would get them.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { splitMbox } from './mbox.js';
import { epochsOf, readEpoch } from './public-inbox-git.js';

export interface RawInput {
  raw: Buffer;
  /** where it came from: `path`, `path#N` for the Nth message of an mbox, `epoch@commit` for public-inbox */
  source: string;
}

export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** Checks every path before anything is read, so a typo is a usage error and not a half-done run. */
export function checkInputs(paths: string[]): void {
  for (const p of paths) {
    if (p === '-') continue;
    if (!existsSync(p)) throw new InputError(`${p}: no such file or directory`);
  }
}

export async function* readMailInputs(paths: string[], stdin: NodeJS.ReadableStream = process.stdin): AsyncGenerator<RawInput> {
  checkInputs(paths);
  for (const p of paths) {
    if (p === '-') {
      yield* fromBuffer(await readAll(stdin), '-');
      continue;
    }
    const st = statSync(p);
    if (st.isDirectory()) {
      const epochs = epochsOf(p);
      if (epochs.length > 0) {
        for (const epoch of epochs) {
          for await (const m of readEpoch(epoch)) yield { raw: m.raw, source: `${path.basename(epoch)}@${m.commit}` };
        }
      } else if (isMaildir(p)) {
        for (const f of maildirFiles(p)) yield { raw: readFileSync(f), source: f };
      } else {
        for (const f of readdirSync(p).sort()) {
          const full = path.join(p, f);
          if (statSync(full).isFile()) yield* fromBuffer(readFileSync(full), full);
        }
      }
    } else {
      yield* fromBuffer(readFileSync(p), p);
    }
  }
}

function* fromBuffer(buf: Buffer, source: string): Generator<RawInput> {
  const msgs = splitMbox(buf);
  if (msgs.length === 1 && !buf.subarray(0, 5).equals(Buffer.from('From '))) {
    yield { raw: msgs[0], source };
    return;
  }
  for (let i = 0; i < msgs.length; i++) yield { raw: msgs[i], source: `${source}#${i + 1}` };
}

function isMaildir(dir: string): boolean {
  return ['cur', 'new'].some((d) => existsSync(path.join(dir, d)) && statSync(path.join(dir, d)).isDirectory());
}

/** Maildir file names start with the delivery time: sorting new/ and cur/ together by name gives arrival order. */
function maildirFiles(dir: string): string[] {
  const files: { name: string; full: string }[] = [];
  for (const sub of ['new', 'cur']) {
    const d = path.join(dir, sub);
    if (!existsSync(d)) continue;
    for (const name of readdirSync(d)) {
      const full = path.join(d, name);
      if (statSync(full).isFile()) files.push({ name, full });
    }
  }
  files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return files.map((f) => f.full);
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}
