/** Link stage: runs the linker the batch config names (linkage.engine). */
import { readFile } from 'node:fs/promises';
import type { Ctx, Stage } from '../../engine/context.ts';
import { InputError } from '../../engine/errors.ts';
import { formatZodError } from '../../engine/config.ts';
import { Model } from '../../../schemas/model.ts';
import { exactLinker } from './exact.ts';
import { linkProbabilistic } from './probabilistic.ts';
import type { Linker } from './types.ts';

async function readModel(path: string): Promise<Model> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new InputError(`model file cannot be read as JSON (${(e as Error).message})`, { file: path });
  }
  const parsed = Model.safeParse(json);
  if (!parsed.success) throw new InputError(`invalid model:\n  ${formatZodError(parsed.error)}`, { file: path });
  return parsed.data;
}

export const probabilisticLinker: Linker = {
  name: 'probabilistic',
  async link(ctx) {
    const model = ctx.config.linkage.model ? await readModel(ctx.config.linkage.model) : undefined;
    const r = await linkProbabilistic(ctx, { model });
    return { candidatePairs: r.candidatePairs, scoredPairs: r.scoredPairs, figures: { ...r.figures, model: r.model } };
  },
};

export const LINKERS: Record<string, Linker> = { exact: exactLinker, probabilistic: probabilisticLinker };

export const linkStage: Stage = {
  name: 'link',
  async run(ctx: Ctx) {
    const linker = LINKERS[ctx.config.linkage.engine];
    const r = await linker.link(ctx);
    ctx.log.info({ stage: 'link', engine: linker.name, candidate_pairs: r.candidatePairs, scored_pairs: r.scoredPairs }, 'linked');
    return { rows: r.scoredPairs, figures: { ...r.figures, candidate_pairs: r.candidatePairs, scored_pairs: r.scoredPairs } };
  },
};
