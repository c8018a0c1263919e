// Report cases shared by the report tests: one series revision and the stored outcomes of each case the
// issue names (success, conflict, build failure, perf regression, gate skipped).
import type { ParsedMessage } from '../../../src/mail/types.js';
import type { Series } from '../../../src/series/types.js';
import { makeReportContext, type OutcomeRow, type ReportContext, type RunRow } from '../../../src/report/context.js';

export const COVER = '<20260301120000.1234-1-jane@example.org>';
export const P1 = '<20260301120000.1234-2-jane@example.org>';
export const P2 = '<20260301120000.1234-3-jane@example.org>';
export const V1_COVER = '<20260220090000.999-1-jane@example.org>';

export const series: Series = {
  id: 'virtio-net-tx-napi-batching',
  name: 'virtio_net: batch tx completions under NAPI',
  version: 2,
  total: 2,
  received_all: true,
  rfc: false,
  tags: ['net-next'],
  submitter: { name: 'Jane Hacker', email: 'jane@example.org' },
  cover: COVER,
  base_commit: '1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c',
  depends_on: [],
  previous: 'virtio-net-tx-napi-batching-v1',
  patches: [
    { msgid: P1, number: 1, name: 'virtio_net: count completed tx buffers', subject: '[PATCH net-next v2 1/2] virtio_net: count completed tx buffers',
      author: { name: 'Jane Hacker', email: 'jane@example.org' }, pull_url: null, files: ['drivers/net/virtio_net.c'], trailers: [] },
    { msgid: P2, number: 2, name: 'virtio_net: batch tx completions under NAPI', subject: '[PATCH net-next v2 2/2] virtio_net: batch tx completions under NAPI',
      author: { name: 'Jane Hacker', email: 'jane@example.org' }, pull_url: null, files: ['drivers/net/virtio_net.c', 'include/linux/virtio.h'], trailers: [] },
  ],
};

export function origin(over: Partial<ParsedMessage> = {}): ParsedMessage {
  return {
    msgid: COVER, msgidSynthetic: false, hash: '0'.repeat(64), size: 1000, date: '2026-03-01T12:00:00.000Z',
    from: { name: 'Jane Hacker', email: 'jane@example.org' },
    to: [{ name: '', email: 'netdev@vger.kernel.org' }],
    cc: [{ name: 'Michael S. Tsirkin', email: 'mst@redhat.com' }, { name: '', email: 'virtualization@lists.linux.dev' }],
    subject: {
      raw: '[PATCH net-next v2 0/2] virtio_net: batch tx completions under NAPI', name: 'virtio_net: batch tx completions under NAPI',
      prefixes: ['PATCH', 'net-next', 'v2', '0/2'], isReply: false, version: 2, versionExplicit: true, number: 0, total: 2,
      rfc: false, resend: false, tags: ['net-next'],
    },
    inReplyTo: V1_COVER, references: [V1_COVER], listId: '<netdev.vger.kernel.org>', kind: 'cover', reason: null,
    body: 'This series batches tx completions.\n', message: '', notes: '', diff: null, pullUrl: null, files: [], trailers: [],
    deps: { baseCommit: null, prerequisitePatchIds: [], prerequisiteMessageIds: [], dependsOn: [], basedOn: [] },
    headers: {},
    ...over,
  };
}

export const run: RunRow = { tree: 'net-next', tree_reason: 'subject tag [net-next]', branch: 'patchgate/virtio-net-tx-napi-batching/v2' };

// shapes as the pipeline stores them (src/queue/registry.ts: ApplyData, BuildData, GateData; src/store/runs.ts)
const tree = { name: 'net-next', reason: 'subject tag [net-next]' };
const applied = { stage: 'apply', status: 'success', summary: 'applied 2 patches to net-next', data: { tree, branch: run.branch, apply: [
  { msgid: P1, outcome: 'applied', files: ['drivers/net/virtio_net.c'], detail: '' },
  { msgid: P2, outcome: 'applied', files: ['drivers/net/virtio_net.c', 'include/linux/virtio.h'], detail: '' },
] } };
const built = { stage: 'build', status: 'success', summary: 'built 2 patches', data: { config: 'x86_64 tinyconfig + kvm guest', log_url: 'https://ci.example.org/logs/virtio-net-tx-napi-batching/v2/build.log', build: [
  { msgid: P1, status: 'success', new_warnings: [], errors: [] },
  { msgid: P2, status: 'success', new_warnings: [], errors: [] },
] } };
const checkpatch = { stage: 'gate:checkpatch', status: 'success', summary: '0 errors, 0 warnings, 0 checks', data: { id: 'checkpatch', status: 'success', summary: '0 errors, 0 warnings, 0 checks', details: [] } };
const gateStage = (status: string) => ({ stage: 'gate', status, summary: 'gates done', data: {} });
const perfOk = { stage: 'gate:perf', status: 'success', summary: 'no regression (5 + 5 boots)', data: { metrics: {
  tcp_rr: { change: 0.004, low: -0.002, high: 0.011, verdict: 'same' },
  tcp_stream: { change: 0.012, low: -0.01, high: 0.03, verdict: 'same' },
} } };

export const cases: Record<string, OutcomeRow[]> = {
  success: [applied, built, gateStage('success'), checkpatch, perfOk],
  conflict: [
    { stage: 'apply', status: 'conflict', summary: 'patch 2/2 does not apply', data: { tree, branch: null, apply: [
      { msgid: P1, outcome: 'applied', files: ['drivers/net/virtio_net.c'], detail: '' },
      { msgid: P2, outcome: 'conflict', files: ['drivers/net/virtio_net.c'],
        detail: 'error: patch failed: drivers/net/virtio_net.c:1712\nerror: drivers/net/virtio_net.c: patch does not apply' },
    ] } },
    // what the worker stores for the stages a conflict blocks
    { stage: 'build', status: 'skipped', summary: 'not run: apply: conflict (patch 2/2 does not apply)', data: { blocked: 'apply: conflict (patch 2/2 does not apply)' } },
    { stage: 'gate', status: 'skipped', summary: 'not run: apply: conflict (patch 2/2 does not apply)', data: { blocked: 'apply: conflict (patch 2/2 does not apply)' } },
  ],
  'build-failure': [applied,
    { stage: 'build', status: 'failure', summary: 'patch 2/2 does not build', data: { config: 'x86_64 tinyconfig + kvm guest',
      reproduce: [
        'git checkout 1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c',
        `b4 shazam ${COVER}`,
        'make tinyconfig && scripts/kconfig/merge_config.sh -m .config kernel/configs/kvm_guest.config',
        'make olddefconfig && make -j2 drivers/net/virtio_net.o',
      ],
      log_url: 'https://ci.example.org/logs/virtio-net-tx-napi-batching/v2/build.log',
      build: [
        { msgid: P1, status: 'warning', errors: [], new_warnings: [
          { file: 'drivers/net/virtio_net.c', line: 1698, message: "unused variable 'budget' [-Wunused-variable]" }] },
        { msgid: P2, status: 'failure', new_warnings: [], errors: [
          { file: 'drivers/net/virtio_net.c', line: 1733, message: "implicit declaration of function 'virtqueue_napi_complete_batch'; did you mean 'virtqueue_napi_complete'? [-Werror=implicit-function-declaration]" }] },
      ] } },
    gateStage('warning'),
    { stage: 'gate:checkpatch', status: 'warning', summary: '0 errors, 1 warning, 0 checks', data: { id: 'checkpatch', status: 'warning', summary: '0 errors, 1 warning, 0 checks', details: [
      { msgid: P2, status: 'warning', message: 'WARNING: line length of 104 exceeds 100 columns (drivers/net/virtio_net.c:1740)' },
      { msgid: P1, status: 'success', message: 'no issues' },
    ] } },
    { stage: 'gate:perf', status: 'skipped', summary: 'not run', data: { reason: 'the build failed' } },
  ],
  'perf-regression': [applied, built, gateStage('failure'), checkpatch,
    { stage: 'gate:perf', status: 'failure', summary: 'tcp_rr per-transaction cost up 2.3% (5 + 5 boots, p = 0.008)', data: {
      url: 'https://ci.example.org/perf/virtio-net-tx-napi-batching/v2',
      metrics: {
        tcp_rr: { change: 0.023, low: 0.019, high: 0.027, verdict: 'regression' },
        tcp_stream: { change: -0.004, low: -0.02, high: 0.012, verdict: 'same' },
      } } },
  ],
  'gate-skipped': [applied, built, gateStage('warning'), checkpatch,
    { stage: 'gate:vhost-matrix', status: 'skipped', summary: 'not run', data: { reason: 'no /dev/vhost-net on this host' } },
    { stage: 'gate:perf', status: 'warning', summary: 'tcp_stream sender cost +0.8%, below the 1% threshold', data: { metrics: {
      tcp_rr: { change: 0.001, low: -0.003, high: 0.004, verdict: 'same' },
      tcp_stream: { change: 0.008, low: 0.002, high: 0.014, verdict: 'small' },
    } } },
  ],
};

export function contextFor(name: string, over: { origin?: Partial<ParsedMessage>; dashboardUrl?: string | null } = {}): ReportContext {
  return makeReportContext({
    series, run, outcomes: cases[name], origin: origin(over.origin),
    dashboardUrl: over.dashboardUrl === undefined ? 'https://patchgate.example.org' : over.dashboardUrl,
  });
}
