// The one error type the MD Core REST client throws. Its message never contains the API key, a session id or a
// password: the client scrubs every secret it was given before building it.

/**
 * - `http`: MD Core answered with a status the call does not accept (see `status`, `err`, `err_details`).
 * - `network`: no answer (connection refused or reset, DNS failure, ...).
 * - `timeout`: no complete answer within the per-request timeout.
 * - `protocol`: an answer that does not have the shape the API promises (e.g. /version without `version`).
 * - `auth`: the call needs an API key or a session and the client has neither; nothing was sent.
 * - `aborted`: the caller's AbortSignal fired.
 */
export type MdCoreErrorKind = 'http' | 'network' | 'timeout' | 'protocol' | 'auth' | 'aborted';

export interface MdCoreApiErrorInit {
  kind: MdCoreErrorKind;
  method: string;
  /** Request path without the base URL, e.g. `/admin/export/v2`. */
  path: string;
  /** Number of requests sent for this call (1 when not retried, 0 when nothing was sent). */
  attempts: number;
  status?: number;
  /** The product's `err` text, when it sent one. */
  err?: string;
  /** The product's `err_details` (import validation problems), when it sent them. */
  err_details?: unknown;
  /** Low-level cause code, e.g. `ECONNREFUSED`. */
  code?: string;
}

export class MdCoreApiError extends Error {
  readonly kind: MdCoreErrorKind;
  readonly method: string;
  readonly path: string;
  readonly attempts: number;
  readonly status: number | undefined;
  readonly err: string | undefined;
  readonly err_details: unknown;
  readonly code: string | undefined;

  constructor(message: string, init: MdCoreApiErrorInit) {
    super(message);
    this.name = 'MdCoreApiError';
    this.kind = init.kind;
    this.method = init.method;
    this.path = init.path;
    this.attempts = init.attempts;
    this.status = init.status;
    this.err = init.err;
    this.err_details = init.err_details;
    this.code = init.code;
  }
}
