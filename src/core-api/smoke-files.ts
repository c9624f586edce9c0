// The two files of the post-upgrade smoke scan: the EICAR anti-virus test file (every engine must call it
// infected) and a harmless text (it must come back clean).
//
// The EICAR string is assembled at run time from pieces and never appears whole in a source file or in the
// bundle: anti-virus software on users' machines would otherwise quarantine this repository. esbuild folds
// `'a' + 'b'` into one literal when it minifies, but not an array join, so the pieces stay apart in dist/.
const EICAR_PIECES = [
  'X5O!P%@AP[4\\PZX54(P^)7CC)7}$',
  'EICAR',
  '-STANDARD-',
  'ANTIVIRUS',
  '-TEST-',
  'FILE!$H+H*',
] as const;

/** The 68-byte EICAR test file. */
export function eicarTestFile(): Buffer {
  return Buffer.from(EICAR_PIECES.join(''), 'ascii');
}

/** True when bytes are the EICAR test file (optionally followed by whitespace, as the standard allows). */
export function isEicarTestFile(bytes: Buffer): boolean {
  const eicar = eicarTestFile();
  return (
    bytes.length >= eicar.length &&
    bytes.subarray(0, eicar.length).equals(eicar) &&
    /^\s*$/.test(bytes.subarray(eicar.length).toString('latin1'))
  );
}

/** A small text no engine should flag; the stamp keeps a cache of earlier results from answering instead. */
export function cleanTestFile(stamp: string): Buffer {
  return Buffer.from(`mdcore-upgrade-action smoke scan: a clean text file (${stamp}).\n`, 'utf8');
}
