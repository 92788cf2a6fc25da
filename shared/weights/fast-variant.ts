/**
 * The `fast` variant of a checkpoint: a compact student generator distilled from the pair's
 * generators (shared/model/student.ts), carried beside them in the same manifest:
 *
 *   "variants": { "float16": {…}, "fast": { "config": {"arch": "mobile-resnet", "ngf": 6, "nBlocks": 6},
 *                                           "groups": { "G_AB": <float16 group>, "G_BA": <float16 group> } } }
 *
 * Its groups are float16 only (it is a download: the distillation run keeps its float32 master
 * and optimizer state in its own training files), named by the direction they translate, and
 * only for generators the checkpoint itself holds: a student without its teacher would be a
 * different pair. Shards are content-addressed like every other group's.
 */
import { GENERATORS, type GeneratorName } from '../model/config.ts';
import { studentParamSpecs, validateStudentConfig, type StudentConfig } from '../model/student-config.ts';
import type { WeightGroup } from './format.ts';

export interface FastVariant {
  config: StudentConfig;
  groups: Partial<Record<GeneratorName, WeightGroup>>;
}

/**
 * Checks `variants.fast`; `validateGroup` is the manifest's own group check, `hasMaster` whether
 * the checkpoint holds that generator. Returns a normalised copy or throws via `fail`.
 */
export function validateFastVariant(
  v: unknown,
  hasMaster: (net: GeneratorName) => boolean,
  validateGroup: (where: string, g: unknown, specs: ReturnType<typeof studentParamSpecs>, dtype: 'float16') => WeightGroup,
  fail: (msg: string) => never,
): FastVariant {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('variants.fast must be an object with config and groups');
  const obj = v as Record<string, unknown>;
  for (const k of Object.keys(obj)) if (k !== 'config' && k !== 'groups') fail(`variants.fast has unknown field "${k}" (expected config, groups)`);
  let config: StudentConfig;
  try {
    config = validateStudentConfig(obj.config);
  } catch (e) {
    fail(`variants.fast.${(e as Error).message}`);
  }
  if (typeof obj.groups !== 'object' || obj.groups === null || Array.isArray(obj.groups)) fail('variants.fast.groups must be an object');
  const groups: FastVariant['groups'] = {};
  const specs = studentParamSpecs(config!);
  for (const key of Object.keys(obj.groups as object)) {
    if (!(GENERATORS as readonly string[]).includes(key)) fail(`variants.fast.groups has unknown generator "${key}" (expected ${GENERATORS.join(', ')})`);
    const net = key as GeneratorName;
    if (!hasMaster(net)) fail(`variants.fast.groups.${net} has no teacher: the checkpoint holds no ${net} in groups`);
    groups[net] = validateGroup(`manifest: variants.fast.groups.${net}`, (obj.groups as Record<string, unknown>)[net], specs, 'float16');
  }
  if (Object.keys(groups).length === 0) fail('variants.fast.groups must hold at least one generator');
  return { config: config!, groups };
}
