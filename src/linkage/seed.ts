/** The seed of the linkage's samplers (u's random pairs, conditional u's groups): one value, so a batch is repeatable. */
export const LINKAGE_SEED = 42;
