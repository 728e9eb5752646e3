// The ApiError a call throws, for tests that assert its code, reason or message.
import assert from 'node:assert/strict';
import { ApiError } from '../../src/api/errors.ts';

/** Calls fn and returns the ApiError it throws; any other error is rethrown, none fails the test. */
export function thrownApiError(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  assert.fail('expected an ApiError');
}
