// Splitting mbox files (mboxo and mboxrd) into raw messages. Works on bytes: mail may hold any charset.

// A From_ line: `From <addr> <asctime date>`; other body lines that begin with `From ` are not separators.
const FROM_LINE = /^From \S+ +.*\d{1,2}:\d{2}.*\d{4}\s*$/;

/**
 * Splits an mbox buffer into messages. A message starts at a line beginning `From ` that follows a blank line
 * (or the start of the file). mboxrd quoting (`>From `, `>>From ` ...) loses one `>`; for mboxo the same
 * unquoting is the accepted convention. A buffer that does not start with `From ` is one message.
 */
export function splitMbox(buf: Buffer): Buffer[] {
  const text = buf.toString('latin1'); // 1 byte = 1 char: offsets map back to bytes exactly
  if (!text.startsWith('From ')) return text.trim() === '' ? [] : [buf];
  const starts: number[] = [];
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const end = nl === -1 ? text.length : nl;
    if (text.startsWith('From ', pos) && FROM_LINE.test(text.slice(pos, Math.min(end, pos + 200)).replace(/\r$/, ''))) {
      starts.push(pos);
    }
    pos = end + 1;
  }
  const out: Buffer[] = [];
  for (let i = 0; i < starts.length; i++) {
    const headerEnd = text.indexOf('\n', starts[i]);
    const bodyStart = headerEnd === -1 ? text.length : headerEnd + 1;
    const end = i + 1 < starts.length ? starts[i + 1] : text.length;
    let chunk = text.slice(bodyStart, end);
    // the blank line that separates messages belongs to the mbox, not to the message
    if (i + 1 < starts.length) chunk = chunk.replace(/\r?\n$/, '');
    chunk = chunk.replace(/^>(>*From )/gm, '$1');
    if (chunk.trim() !== '') out.push(Buffer.from(chunk, 'latin1'));
  }
  return out;
}
