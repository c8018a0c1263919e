// Golden files for every rendered mail, GitHub comment and patchwork check set.
// Update them with: UPDATE_GOLDEN=1 npx vitest run test/unit/report/golden.test.ts
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildReplyMail, formatMailPreview } from '../../../src/report/mail.js';
import { renderGithubComment, renderPatchworkChecks } from '../../../src/report/render.js';
import { cases, contextFor } from './cases.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const goldenDir = path.join(repoRoot, 'test', 'fixtures', 'golden');
const update = process.env.UPDATE_GOLDEN === '1';

function golden(name: string, actual: string): void {
  const file = path.join(goldenDir, name);
  if (update || !existsSync(file)) {
    if (!update) throw new Error(`missing golden file ${name}: run with UPDATE_GOLDEN=1 and review it`);
    mkdirSync(goldenDir, { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  expect(actual).toBe(readFileSync(file, 'utf8'));
}

describe('golden reports', () => {
  for (const name of Object.keys(cases)) {
    it(`mail: ${name}`, () => {
      const mail = buildReplyMail(contextFor(name), { from: 'patchgate <bot@patchgate.example.org>', cc: ['netdev@vger.kernel.org'] });
      golden(`mail-${name}.txt`, formatMailPreview(mail));
      for (const line of mail.text.split('\n')) {
        // only an unbreakable word (a URL) may pass 72 columns
        if (line.length > 72) expect(line.trim()).not.toMatch(/ /);
      }
    });
    it(`github comment: ${name}`, () => {
      golden(`github-${name}.md`, renderGithubComment(contextFor(name)));
    });
    it(`patchwork checks: ${name}`, () => {
      golden(`patchwork-${name}.json`, `${JSON.stringify(renderPatchworkChecks(contextFor(name)), null, 2)}\n`);
    });
  }

  it('the golden cases cover what the issue names', () => {
    expect(Object.keys(cases).sort()).toEqual(['build-failure', 'conflict', 'gate-skipped', 'perf-regression', 'success']);
    expect(contextFor('success').verdict).toBe('success');
    expect(contextFor('conflict').verdict).toBe('conflict');
    expect(contextFor('build-failure').verdict).toBe('failure');
    expect(contextFor('perf-regression').verdict).toBe('failure');
    expect(contextFor('gate-skipped').verdict).toBe('warning');
  });

  it('the build failure mail holds the compiler error and the config to reproduce it', () => {
    const text = buildReplyMail(contextFor('build-failure'), { from: 'bot@example.org', cc: [] }).text;
    expect(text).toContain("error: drivers/net/virtio_net.c:1733: implicit declaration of");
    expect(text).toContain('x86_64 tinyconfig + kvm guest');
    expect(text).toContain('To reproduce:');
    expect(text).toContain('kernel/configs/kvm_guest.config');
  });

  it('the perf regression mail holds the numbers', () => {
    const text = buildReplyMail(contextFor('perf-regression'), { from: 'bot@example.org', cc: [] }).text;
    expect(text).toMatch(/tcp_rr +\+2\.3% +\[\+1\.9%, \+2\.7%\] +regression/);
  });

  it('a skipped gate says why', () => {
    const text = buildReplyMail(contextFor('gate-skipped'), { from: 'bot@example.org', cc: [] }).text;
    expect(text).toMatch(/vhost-matrix +skipped[^\n]*\n +why: no \/dev\/vhost-net on this host/);
  });
});
