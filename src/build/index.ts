// The build layer's public surface: the builder registry with the kernel builder in it.
import { registerBuilder } from './builder.js';
import { kernelBuilder } from './kernel.js';

registerBuilder(kernelBuilder);

export { builders, combineBuildStatus, registerBuilder, runBuild, toContractRows } from './builder.js';
export type { Builder, BuildContext, BuildIssue, BuildPatch, BuildResult, BuildStatus, BuildTree, ConfigBuild, PatchBuild } from './builder.js';
export { buildSettingsFrom, buildSettingsSchema, type BuildConfig, type BuildSettings } from './settings.js';
export { kernelBuilder, buildKernelConfig, buildPaths } from './kernel.js';
