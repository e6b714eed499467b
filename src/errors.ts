/**
 * The API's error model. Every failure the API reports is one of these classes; `app.onError`
 * turns them into `{code, message, errors?, fields?}` plus the `x-amzn-errortype` header that the
 * JustWorkflowIt client reads. Across Durable Object RPC, class identity is lost, so RPC methods
 * return `ErrorInfo` values and callers rebuild the class with `fromErrorInfo`.
 */

export type ErrorCode =
  | "ValidationError"
  | "AuthenticationError"
  | "AuthorizationError"
  | "NotFoundError"
  | "UnknownOperation"
  | "ConflictError"
  | "SecretUnreadable"
  | "PayloadTooLarge"
  | "ThrottlingError"
  | "UnhandledError";

export const STATUS_BY_CODE: Record<ErrorCode, 400 | 401 | 403 | 404 | 409 | 413 | 429 | 500> = {
  ValidationError: 400,
  AuthenticationError: 401,
  AuthorizationError: 403,
  NotFoundError: 404,
  UnknownOperation: 404,
  ConflictError: 409,
  SecretUnreadable: 409,
  PayloadTooLarge: 413,
  ThrottlingError: 429,
  UnhandledError: 500,
};

/** A plain value describing an error; safe to send over RPC and to store. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  errors?: string[];
  fields?: Record<string, string>;
}

/** Base class: a stable code and an HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly errors?: string[],
    readonly fields?: Record<string, string>,
  ) {
    super(message);
    this.name = code;
  }

  get status(): number {
    return STATUS_BY_CODE[this.code];
  }

  toInfo(): ErrorInfo {
    return {
      code: this.code,
      message: this.message,
      ...(this.errors ? { errors: this.errors } : {}),
      ...(this.fields ? { fields: this.fields } : {}),
    };
  }
}

export class ValidationError extends ApiError {
  constructor(message: string, errors?: string[], fields?: Record<string, string>) {
    super("ValidationError", message, errors, fields);
  }
}
export class AuthenticationError extends ApiError {
  constructor(message = "Missing or invalid credentials.") {
    super("AuthenticationError", message);
  }
}
export class AuthorizationError extends ApiError {
  constructor(message = "This token is not allowed to act on this organization.", errors?: string[]) {
    super("AuthorizationError", message, errors);
  }
}
export class NotFoundError extends ApiError {
  constructor(message: string) {
    super("NotFoundError", message);
  }
}
/** No operation has this method and path: "not implemented", told apart from an unknown id (NotFoundError). */
export class UnknownOperationError extends ApiError {
  constructor(message: string) {
    super("UnknownOperation", message);
  }
}
export class ConflictError extends ApiError {
  constructor(message: string) {
    super("ConflictError", message);
  }
}
/**
 * A stored secret sealed under an encryption key this deployment no longer has (src/crypto/seal.ts):
 * it cannot be read until it is set again, or the operator puts the key back in SECRETS_KEY_PREVIOUS.
 */
export class SecretUnreadableError extends ApiError {
  constructor(what: string, cause: string) {
    super(
      "SecretUnreadable",
      `${what} cannot be read: ${cause} Set it again, or ask the operator to add the key it was sealed with to SECRETS_KEY_PREVIOUS.`,
    );
  }
}
export class PayloadTooLargeError extends ApiError {
  constructor(message: string) {
    super("PayloadTooLarge", message);
  }
}
export class ThrottlingError extends ApiError {
  constructor(message: string) {
    super("ThrottlingError", message);
  }
}

/** Rebuilds a thrown class from an error value that crossed RPC. */
export function fromErrorInfo(info: ErrorInfo): ApiError {
  return new ApiError(info.code, info.message, info.errors, info.fields);
}

/** The result shape of RPC methods that may fail with an API error. */
export type RpcResult<T> = { ok: true; value: T } | { ok: false; error: ErrorInfo };

/** Unwraps an RPC result, throwing the API error it carries. */
export function unwrap<T>(result: RpcResult<T>): T {
  if (!result.ok) throw fromErrorInfo(result.error);
  return result.value;
}
