// Shapes of the MD Core REST answers the action uses (Core API 5.6.1 spec). Every field the spec does not mark
// required is optional here, and newer Core versions may add fields: unknown fields are kept, never rejected.

/** Engine `state` values the 5.6.1 spec lists for GET /stat/engines; newer versions may send others. */
export const ENGINE_STATES = [
  'downloading',
  'downloaded',
  'staging',
  'production',
  'removed',
  'temporary failed',
  'permanently failed',
  'content invalid',
  'download failed',
] as const;

export type EngineState = (typeof ENGINE_STATES)[number];

/** One element of GET /stat/engines. */
export interface EngineStatus {
  eng_id?: string;
  eng_name?: string;
  eng_type?: string;
  eng_ver?: string;
  engine_type?: string;
  /** See ENGINE_STATES; typed as string because newer versions may add states. */
  state?: string;
  /** The spec: "If used by at least one engine". */
  active?: boolean;
  def_time?: string;
  download_progress?: number;
  download_time?: string;
  [field: string]: unknown;
}

/** GET /admin/license. */
export interface LicenseInfo {
  days_left?: number;
  deployment?: string;
  /** MM/DD/YYYY */
  expiration?: string;
  /** The spec's schema says an array; its own example shows "*", so both are accepted. */
  licensed_engines?: string[] | string;
  licensed_to?: string;
  max_node_count?: string;
  online_activated?: boolean;
  product_id?: string;
  product_name?: string;
  [field: string]: unknown;
}

/** GET /version. The spec marks no field required; the client insists on `version`, the whole point of asking. */
export interface VersionInfo {
  product_id: string | undefined;
  version: string;
}

/** GET /readyz: 200 healthy, 503 not. `body` is the parsed JSON answer (detailed with verbose), or null. */
export interface ReadyzResult {
  ok: boolean;
  status: number;
  body: unknown;
}

/** POST /admin/import/v2 success: 200 (imported) or 304 (configuration had not changed). */
export interface ImportResult {
  status: 200 | 304;
  /** The product's `result` text on 200, e.g. "Successfully imported". */
  result?: string;
}

/** `scan_all_result_i` codes the action tells apart (the product defines more; see its API reference). */
export const SCAN_RESULT = { clean: 0, infected: 1, inProgress: 255 } as const;

/** GET /file/{data_id}: the parts of the analysis report the smoke scan reads. */
export interface ScanReport {
  data_id?: string;
  process_info?: {
    progress_percentage?: number;
    /** e.g. "Allowed" or "Blocked". */
    result?: string;
    blocked_reason?: string;
    [field: string]: unknown;
  };
  scan_results?: {
    /** 100 when the scan is finished. */
    progress_percentage?: number;
    /** The overall verdict code: 0 no threat, 1 infected, 255 in progress, others see the API reference. */
    scan_all_result_i?: number;
    /** The same verdict as text, e.g. "No Threat Detected" or "Infected". */
    scan_all_result_a?: string;
    [field: string]: unknown;
  };
  [field: string]: unknown;
}
