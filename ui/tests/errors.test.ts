import { describe, expect, it } from 'vitest';
import { isUiError, toUiError } from '../src/data/errors';

describe('toUiError', () => {
  it('keeps a UiError as it is', () => {
    expect(toUiError({ code: 'refused', message: 'kiosk' })).toEqual({ code: 'refused', message: 'kiosk' });
  });
  it('parses a serialised UiError string', () => {
    expect(toUiError('{"code":"unreachable","message":"pg3 down"}')).toEqual({ code: 'unreachable', message: 'pg3 down' });
  });
  it('never lets an unknown code through', () => {
    expect(isUiError({ code: 'teapot', message: 'x' })).toBe(false);
    expect(toUiError({ code: 'teapot', message: 'x' }).code).toBe('internal');
    expect(toUiError(new Error('boom'))).toEqual({ code: 'internal', message: 'boom' });
  });
});
