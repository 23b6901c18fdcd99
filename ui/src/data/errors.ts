// Every failure the UI shows arrives as a UiError. The backend sends them
// already shaped; anything else (a network failure, a thrown exception, a
// proxy's HTML error page) is folded into the closed ErrorCode set here, so
// components branch on `code` alone and only ever display `message`.
import type { ErrorCode } from '../generated/ErrorCode';
import type { UiError } from '../generated/UiError';

const CODES: readonly ErrorCode[] = [
  'bad_request',
  'refused',
  'unreachable',
  'server',
  'not_configured',
  'internal',
];

export function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === 'string' && (CODES as readonly string[]).includes(v);
}

export function isUiError(v: unknown): v is UiError {
  return (
    typeof v === 'object' &&
    v !== null &&
    isErrorCode((v as { code?: unknown }).code) &&
    typeof (v as { message?: unknown }).message === 'string'
  );
}

export function uiError(code: ErrorCode, message: string): UiError {
  return { code, message };
}

/** Whatever was thrown, as a UiError. */
export function toUiError(e: unknown, fallback: ErrorCode = 'internal'): UiError {
  if (isUiError(e)) return { code: e.code, message: e.message };
  if (typeof e === 'string') {
    // Tauri rejects with the serialised error; a string may still be JSON.
    try {
      const parsed: unknown = JSON.parse(e);
      if (isUiError(parsed)) return parsed;
    } catch {
      /* not JSON: a plain message */
    }
    return uiError(fallback, e);
  }
  if (e instanceof Error) return uiError(fallback, e.message);
  return uiError(fallback, String(e));
}
