// The strategies the engine can run, by the `strategy` input. Adding one: a file here and a line below.
import type { Strategy } from '../engine/step.ts';
import type { Plan } from '../plan/plan.ts';
import { blueGreen } from './blue-green.ts';
import { blueGreenHotBackup } from './blue-green-hot-backup.ts';
import { exportImport } from './export-import.ts';
import { rollingUpdate } from './rolling-update.ts';

export const STRATEGIES: Readonly<Partial<Record<Plan['strategy'], Strategy>>> = {
  'rolling-update': rollingUpdate,
  'export-import': exportImport,
  'blue-green': blueGreen,
  'blue-green-hot-backup': blueGreenHotBackup,
};

export function strategyFor(plan: Plan): Strategy {
  const s = STRATEGIES[plan.strategy];
  if (!s) throw new Error(`input 'strategy': "${plan.strategy}" is not available in this version`);
  return s;
}
