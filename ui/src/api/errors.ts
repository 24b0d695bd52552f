// The typed error both transports reject with: the hub's `{code, message}` as a real `Error`.

import type { ApiError } from "../generated/ApiError";
import type { ErrorCode } from "../generated/ErrorCode";

/** Every code, keyed by the generated type so a new code on the Rust side fails the type check. */
const ERROR_CODES: Record<ErrorCode, true> = {
  bad_request: true,
  unauthorized: true,
  forbidden: true,
  not_found: true,
  too_many_requests: true,
  internal: true,
  unavailable: true,
};

/** An `ApiError` that is also a real `Error` (stack traces, `instanceof`). */
export class BackendError extends Error implements ApiError {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = "BackendError";
    this.code = code;
  }
}

function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === "string" && Object.hasOwn(ERROR_CODES, v);
}

/** True for a value shaped like the hub's `{code, message}` error. */
export function isApiError(v: unknown): v is ApiError {
  return typeof v === "object" && v !== null && isErrorCode((v as ApiError).code) && typeof (v as ApiError).message === "string";
}

/** Anything thrown or rejected, as an `ApiError` a person can read. */
export function toApiError(e: unknown, fallback = "Something went wrong talking to the hub."): BackendError {
  if (e instanceof BackendError) return e;
  if (isApiError(e)) return new BackendError(e.code, e.message);
  if (typeof e === "string" && e) return new BackendError("internal", e);
  if (e instanceof Error && e.message) return new BackendError("internal", `${fallback} (${e.message})`);
  return new BackendError("internal", fallback);
}
