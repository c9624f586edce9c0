// Small text look-ups (release pointers, checksum files) over @actions/http-client, which honours
// https_proxy / http_proxy / no_proxy exactly as @actions/tool-cache's downloads do. Bounded retries: a fixed
// number of attempts, each with an idle-socket timeout, a growing pause between them, and a size limit.
import { HttpClient } from '@actions/http-client';
import type { Reporter } from '../report/reporter.ts';
import { redactUrl } from './sources.ts';

export const USER_AGENT = 'mdcore-upgrade-action';

export interface RetryPolicy {
  /** Total attempts, at least 1. */
  attempts: number;
  /** Pause before attempt n+1 is n × delayMs. */
  delayMs: number;
  /** A request with no socket activity for this long fails (and may be retried). */
  timeoutMs: number;
}

export const DEFAULT_LOOKUP_RETRY: RetryPolicy = { attempts: 4, delayMs: 2000, timeoutMs: 30_000 };

/** Release pointers and checksum files are a few bytes; anything much larger is not one. */
const MAX_BODY_BYTES = 64 * 1024;

/** Server-side and throttling answers are worth another try; other 4xx answers are final. */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

export class LookupError extends Error {
  /** The HTTP status of a final answer, undefined for network failures. */
  readonly status: number | undefined;
  constructor(message: string, status: number | undefined) {
    super(message);
    this.name = 'LookupError';
    this.status = status;
  }
}

export interface LookupOptions {
  reporter: Reporter;
  /** What is being looked up, for messages: 'kubectl stable version', 'helm 3.22.0 checksum'. */
  what: string;
  authorization?: string;
  retry: RetryPolicy;
}

/**
 * Reads a response body up to a limit; undefined when it is larger. Unlike HttpClientResponse.readBody this
 * fails (instead of waiting forever) when the connection drops or idles out midway.
 */
async function readLimited(
  message: AsyncIterable<Buffer> & { destroy(): void },
  limit: number,
): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of message) {
    size += chunk.length;
    if (size > limit) {
      message.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export async function fetchText(url: string, options: LookupOptions): Promise<string> {
  const { reporter, what, retry } = options;
  const shown = redactUrl(url);
  const attempts = Math.max(1, Math.floor(retry.attempts));
  const headers = options.authorization ? { authorization: options.authorization } : {};
  const client = new HttpClient(USER_AGENT, [], {
    allowRetries: false,
    allowRedirects: true,
    maxRedirects: 5,
    socketTimeout: retry.timeoutMs,
  });
  let lastReason = '';
  try {
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const res = await client.get(url, headers);
        const status = res.message.statusCode ?? 0;
        if (status === 200) {
          const body = await readLimited(res.message, MAX_BODY_BYTES);
          if (body === undefined) {
            throw new LookupError(
              `${what}: ${shown} answered more than ${MAX_BODY_BYTES} bytes, too large to be it`,
              200,
            );
          }
          reporter.debug(`${what}: ${shown} answered ${body.length} bytes`);
          return body.toString('utf8');
        }
        res.message.destroy();
        if (!isRetryableStatus(status)) {
          throw new LookupError(`${what}: ${shown} answered HTTP ${status}`, status);
        }
        lastReason = `HTTP ${status}`;
      } catch (err) {
        if (err instanceof LookupError) throw err;
        lastReason = err instanceof Error ? err.message : String(err);
      }
      if (attempt < attempts) {
        const pause = retry.delayMs * attempt;
        reporter.info(
          `${what}: attempt ${attempt}/${attempts} at ${shown} failed (${lastReason}); retrying in ${pause} ms`,
        );
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  } finally {
    client.dispose();
  }
  throw new LookupError(`${what}: ${shown} failed ${attempts} times, last: ${lastReason}`, undefined);
}
