// Which database the new version migrates from (MDCORE_UPGRADE_FROM_DB_NAME), and why. Pure.

export const FIRST_INSTALL_DB = 'metadefender_core';
/** Annotations this action writes on the Deployment after a successful upgrade. */
export const ANNOTATION_PREFIX = 'mdcore-upgrade-action';
export const DB_NAME_ANNOTATION = `${ANNOTATION_PREFIX}/db-name`;
export const TAG_ANNOTATION = `${ANNOTATION_PREFIX}/tag`;
export const FROM_DB_ANNOTATION = `${ANNOTATION_PREFIX}/from-db-name`;
export const UPGRADED_AT_ANNOTATION = `${ANNOTATION_PREFIX}/upgraded-at`;

export interface DbNameEvidence {
  readonly input: string | undefined;
  readonly annotations: Readonly<Record<string, string>>;
  readonly currentTag: string | undefined;
  /** Effective values in today's pod template. */
  readonly currentUpgradeDb: string | undefined;
  readonly currentFromDbName: string | undefined;
}

export interface DbNameChoice {
  readonly name: string;
  readonly reason: string;
  /** Set when the choice is a guess a person should confirm. */
  readonly warning: string | undefined;
}

/**
 * The database a version's upgrade creates: `metadefender_core<new_version>` in OPSWAT's words. The exact
 * spelling of <new_version> is not documented (unconfirmed: the version's digits); it is only recorded for
 * the next run, which shows it and lets `from-db-name` override it.
 */
export function upgradedDbName(tag: string): string {
  const version = /^\d+(\.\d+)*/.exec(tag)?.[0] ?? tag;
  return `${FIRST_INSTALL_DB}${version.replace(/\D/g, '')}`;
}

export function chooseFromDbName(e: DbNameEvidence): DbNameChoice {
  if (e.input) return { name: e.input, reason: "given in the 'from-db-name' input", warning: undefined };
  const recorded = e.annotations[DB_NAME_ANNOTATION];
  const recordedTag = e.annotations[TAG_ANNOTATION];
  if (recorded && recordedTag && recordedTag === e.currentTag) {
    return {
      name: recorded,
      reason: `recorded on the Deployment by this action's earlier upgrade to ${recordedTag}`,
      warning: undefined,
    };
  }
  if (recorded && recordedTag !== e.currentTag) {
    return {
      name: e.currentFromDbName ?? FIRST_INSTALL_DB,
      reason: `the recorded database (${recorded}, for ${recordedTag ?? 'unknown'}) does not match the running tag ${e.currentTag ?? 'unknown'}; fell back to the current setting`,
      warning: `the image was changed outside this action since its last upgrade; confirm the database name with the 'from-db-name' input`,
    };
  }
  if (e.currentUpgradeDb?.toLowerCase() !== 'true' && e.currentFromDbName) {
    return {
      name: e.currentFromDbName,
      reason: `today's pods run with UPGRADE_DB=${e.currentUpgradeDb ?? 'unset'} and MDCORE_UPGRADE_FROM_DB_NAME=${e.currentFromDbName}: no upgrade has switched databases since`,
      warning: undefined,
    };
  }
  if (e.currentUpgradeDb?.toLowerCase() === 'true') {
    return {
      name: e.currentFromDbName ?? FIRST_INSTALL_DB,
      reason:
        'an earlier upgrade ran with UPGRADE_DB=true outside this action, so the database in use may be a newer one',
      warning:
        "the running version was upgraded before (UPGRADE_DB=true) without a record of the database it created; set 'from-db-name' to the database in use to be sure",
    };
  }
  return {
    name: FIRST_INSTALL_DB,
    reason: "nothing recorded or configured: the first installation's database",
    warning: undefined,
  };
}
