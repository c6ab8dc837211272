/**
 * The errors a person can meet, each with a stable `code` that survives the worker boundary and a
 * message that says what happened and what to do next.
 */
export type ErrorCode =
  | 'bad-request'
  | 'aborted'
  | 'model-incompatible'
  | 'webgpu-unavailable'
  | 'device-lost'
  | 'unsupported-feature'
  | 'integrity'
  | 'quota-exceeded'
  | 'network'
  | 'internal';

export class PocketError extends Error {
  constructor(readonly code: ErrorCode, message: string, readonly detail?: Readonly<Record<string, string | number | boolean>>) {
    super(message);
    this.name = 'PocketError';
  }

  /** A plain object for postMessage (Error subclasses lose their fields in structured clone). */
  toJSON(): SerializedError {
    return { code: this.code, message: this.message, ...(this.detail ? { detail: this.detail } : {}) };
  }

  static fromJSON(e: SerializedError): PocketError {
    return new PocketError(e.code, e.message, e.detail);
  }

  /** Any thrown value as a PocketError (unknown failures keep their message under 'internal'). */
  static from(e: unknown): PocketError {
    if (e instanceof PocketError) return e;
    if (e instanceof DOMException && e.name === 'AbortError') return new PocketError('aborted', 'Generation cancelled.');
    const message = e instanceof Error ? e.message : String(e);
    return new PocketError('internal', `Something went wrong: ${message}`);
  }
}

export interface SerializedError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly detail?: Readonly<Record<string, string | number | boolean>>;
}

export function badRequest(field: string, message: string): PocketError {
  return new PocketError('bad-request', message, { field });
}

export function aborted(): PocketError {
  return new PocketError('aborted', 'Generation cancelled. Nothing was lost: press Generate to start again.');
}
