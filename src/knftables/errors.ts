// Errors of nftables operations, with the errno-like code nft reports (or the Fake decides), so
// callers and tests tell "not found" from "exists" from "in use" without reading messages.

/**
 * ENOENT: a table, chain, set, map, element or rule that is not there; EEXIST: create of something
 * there, or a map element already there with another value; EBUSY: deleting what a rule or element
 * still uses; EOPNOTSUPP: what the kernel will not do (a jump to a base chain); EINVAL: an object
 * or text nft rejects; EEXEC: nft could not be run or said nothing we understand.
 */
export type NftErrorCode = 'ENOENT' | 'EEXIST' | 'EBUSY' | 'EOPNOTSUPP' | 'EINVAL' | 'EEXEC';

export class NftError extends Error {
  constructor(
    readonly code: NftErrorCode,
    message: string,
    /** what nft wrote to stderr, when the error came from nft */
    readonly stderr?: string,
  ) {
    super(message);
    this.name = 'NftError';
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof NftError && e.code === 'ENOENT';
export const isAlreadyExists = (e: unknown): boolean => e instanceof NftError && e.code === 'EEXIST';

// nft does not call setlocale(), so its errno texts are always these English strings.
const errnoTexts: [string, NftErrorCode][] = [
  ['No such file or directory', 'ENOENT'],
  ['File exists', 'EEXIST'],
  ['Device or resource busy', 'EBUSY'],
  ['Operation not supported', 'EOPNOTSUPP'],
];

/** The error for what nft said when it refused a transaction (as knftables, the first line decides). */
export function errorFromStderr(stderr: string): NftError {
  const first = stderr.split('\n').find((l) => l.trim() !== '') ?? '';
  const code = errnoTexts.find(([text]) => first.includes(text))?.[1] ?? 'EINVAL';
  return new NftError(code, first.trim() || 'nft failed', stderr);
}
