// A journal as a run on the kubectl route leaves it mid-wait, for unit tests of the decisions that read it.
import type { BlueGreenRecord, JournalData } from '../../src/engine/journal.ts';

export function journalFixture(change: Partial<JournalData> = {}): JournalData {
  return {
    version: 1,
    namespace: 'mdcore',
    deployment: 'md-core',
    container: 'md-core',
    method: 'kubectl',
    phase: 'waiting',
    rollback: 'auto',
    previousImage: 'opswat/metadefendercore-debian:5.19.0',
    targetImage: 'opswat/metadefendercore-debian:5.20.0',
    previousRevision: '3',
    configMaps: [],
    configMapWrites: {},
    deploymentFields: {},
    deploymentAnnotations: {},
    templateChanged: true,
    ...change,
  };
}

/** A blue-green record as the plan step writes it (nothing created yet), for the rollback decisions' tests. */
export function blueGreenFixture(change: Partial<BlueGreenRecord> = {}): BlueGreenRecord {
  return {
    blue: 'md-core',
    green: 'md-core-green',
    preview: 'md-core-green-preview',
    service: 'md-core',
    blueSelector: { app: 'md-core' },
    greenSelector: { app: 'md-core-green', 'mdcore-upgrade.opswat.com/color': 'green' },
    blueReplicas: 2,
    greenCreated: false,
    previewCreated: false,
    switched: false,
    blueScaled: false,
    ...change,
  };
}
