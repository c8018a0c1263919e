// The tree registry: config/trees.yaml (or the `trees:` list of the main config) checked with zod.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export type Builder = 'kernel' | 'qemu';

const lowerList = z.array(z.string().min(1).transform((s) => s.trim().toLowerCase())).default([]);

export const treeSchema = z.object({
  /** the tree's name as reports show it (`net-next`) */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, . _ - only'),
  /** git URL or local path of the upstream repository */
  url: z.string().min(1),
  branch: z.string().min(1).default('master'),
  /** mailing lists the tree takes patches from */
  lists: lowerList,
  /** subject prefix tokens that name this tree, compared exactly (lower-case) */
  tokens: lowerList,
  /** extra path patterns in MAINTAINERS F: syntax, counted like a section the tree owns */
  paths: z.array(z.string().min(1)).default([]),
  /** the tree takes fixes: preferred when a Fixes: commit is in several trees */
  fixes: z.boolean().default(false),
  maintainers: z
    .object({
      /** path of the MAINTAINERS file inside the tree; null when the tree has none */
      file: z.string().nullable().default('MAINTAINERS'),
      /** other spellings of the tree's URL as MAINTAINERS T: lines give it */
      urls: z.array(z.string()).default([]),
      /** section titles the tree owns even without a T: line naming it */
      sections: z.array(z.string()).default([]),
    })
    .default({ file: 'MAINTAINERS', urls: [], sections: [] }),
  builder: z.enum(['kernel', 'qemu']).default('kernel'),
  /** gate ids run on this tree's series */
  gates: z.array(z.string()).default([]),
});

export type TreeConfig = z.infer<typeof treeSchema>;

export const treesSchema = z.array(treeSchema).superRefine((trees, ctx) => {
  const names = new Map<string, number>();
  const tokens = new Map<string, string>();
  trees.forEach((tree, i) => {
    if (names.has(tree.name)) {
      ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate tree name ${tree.name}` });
    }
    names.set(tree.name, i);
    tree.tokens.forEach((token, j) => {
      const owner = tokens.get(token);
      if (owner !== undefined && owner !== tree.name) {
        ctx.addIssue({ code: 'custom', path: [i, 'tokens', j], message: `token ${token} already names tree ${owner}` });
      }
      tokens.set(token, tree.name);
    });
  });
});

export const treesFileSchema = z.object({
  trees: treesSchema,
  /**
   * tokens of trees patchgate does not carry (bpf-next, wireless ...): a series marked for one of
   * them gets no tree instead of a guess from its paths or list
   */
  elsewhere: lowerList,
});

export type TreesFile = z.infer<typeof treesFileSchema>;

/** A bad trees file: every problem with its path. */
export class TreesConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: ${problems.join('; ')}`);
    this.name = 'TreesConfigError';
  }
}

/** Parses already-loaded data (the `trees:`/`elsewhere:` keys). Throws TreesConfigError listing every problem. */
export function parseTrees(data: unknown, source = '<trees>'): TreesFile {
  const result = treesFileSchema.safeParse(data);
  if (!result.success) {
    throw new TreesConfigError(
      source,
      result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
    );
  }
  return result.data;
}

/** Reads and checks config/trees.yaml. */
export async function loadTrees(file: string): Promise<TreesFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new TreesConfigError(file, [`cannot read: ${(err as Error).message}`]);
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    throw new TreesConfigError(file, [`not YAML: ${(err as Error).message}`]);
  }
  return parseTrees(data, file);
}
