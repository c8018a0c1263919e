// The tree layer's public surface: registry, selection, mirrors, checkouts, apply.
export { loadTrees, parseTrees, treeSchema, treesSchema, treesFileSchema, TreesConfigError } from './config.js';
export type { TreeConfig, TreesFile, Builder } from './config.js';
export { selectTree, selectionInputFromSeries, treesForToken, listIdAddress, normalizeGitUrl } from './select.js';
export type { SelectionInput, TreeSelection, TreeCandidate, TreeProbe, SelectionSignal } from './select.js';
export { parseMaintainers, matchSections, filePatternMatches } from './maintainers.js';
export type { MaintainersSection, SectionMatch } from './maintainers.js';
export { gitProbe } from './probe.js';
export { fetchMirror, fetchTreeMirrors, mirrorPath, treeMirrorPath, treeHead, gcMirror, scheduleMirrorFetch } from './mirror.js';
export { openCheckout, withCheckout, checkoutPath, resetCheckout, resolveCommit, addWorktree, removeWorktree } from './checkout.js';
export type { Checkout, OpenCheckoutOptions } from './checkout.js';
export { applySeries, applyToFirstCandidate, resultBranch, patchFiles, findHunk, describeConflict, bareSubject } from './apply.js';
export type { ApplyOutcome, ApplySeriesOptions, ApplySeriesResult, PatchApplyResult, PatchToApply, TrailerLine, Committer } from './apply.js';
export { ensureResultsRepo, listResultBranches } from './results.js';
export type { ResultsRepoOptions } from './results.js';
export { PatchApplyError, GitCommandError, CheckoutError, LockTimeoutError, redactUrl } from './errors.js';
export { applyOnTree, selectAndApply } from './apply-on-tree.js';
export type { ApplyOnTreeOptions, SelectAndApplyOptions, SelectAndApplyResult, TreeDirs } from './apply-on-tree.js';
