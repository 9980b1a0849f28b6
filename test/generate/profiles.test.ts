import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from '../../src/generate/index.ts';
import { PROFILES, profileByName, randomProfile } from '../../src/generate/profiles.ts';
import { tempDir } from '../fixtures/inputs.ts';

describe('population profiles', () => {
  it('ships at least eight named profiles besides the default, and random ones drawn by seed', () => {
    expect(PROFILES.filter((p) => p.name !== 'default').length).toBeGreaterThanOrEqual(8);
    expect(randomProfile(5)).toEqual(randomProfile(5));
    expect(randomProfile(5)).not.toEqual(randomProfile(6));
    expect(profileByName('random:5').name).toBe('random:5');
    expect(() => profileByName('nope')).toThrow(/unknown profile/);
  });

  it('a profile changes the population as it says', async () => {
    const run = async (name: string) => {
      const dir = tempDir('dtsen-profile-');
      await generate({ persons: 3000, seed: 3, out: dir, profile: profileByName(name) });
      return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { corruptions: Record<string, Record<string, number>>; hard_negatives: { twins: number; juniors: number }; profile: { name: string } };
    };
    const clean = await run('clean');
    const conv = await run('conventional');
    const dtks = await run('dtks2019');
    const twins = await run('juniors-twins');
    const sheet = await run('spreadsheet');
    expect(conv.profile.name).toBe('conventional');
    expect(conv.corruptions.regsosek.date_conventional ?? 0).toBeGreaterThan(5 * (clean.corruptions.regsosek.date_conventional ?? 0) + 50);
    expect(dtks.corruptions.dtks.nik_missing).toBeGreaterThan(1.5 * clean.corruptions.dtks.nik_missing!);
    expect(twins.hard_negatives.juniors).toBeGreaterThan(3 * (clean.hard_negatives.juniors + 1));
    expect(sheet.corruptions.dtks.nik_scientific).toBeGreaterThan(5 * (clean.corruptions.dtks.nik_scientific ?? 0) + 20);
  });
});
