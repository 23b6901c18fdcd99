import { describe, expect, it } from 'vitest';
import { bytesShort, lagShort, secondsShort } from '../src/lib/format';

describe('short lag for the war-room tree', () => {
  it('writes bytes in at most five characters', () => {
    expect([0, 384, 1023, 4608, 10 * 1024, 314572800, 1.25 * 1024 ** 3].map(bytesShort)).toEqual(['0B', '384B', '1023B', '4.5K', '10K', '300M', '1.3G']);
    expect(bytesShort(null)).toBe('—');
  });

  it('writes seconds as short as they stay readable', () => {
    expect([0, 0.073, 2.5, 38.4, 98, 3599, 7500].map(secondsShort)).toEqual(['0s', '73ms', '2.5s', '38s', '1m38s', '59m59s', '2h05m']);
    expect(secondsShort(undefined)).toBe('—');
  });

  it('joins both for an edge label', () => {
    expect(lagShort(4608, 0)).toBe('4.5K 0s');
    expect(lagShort(314572800, 98)).toBe('300M 1m38s');
    expect(lagShort(null, null)).toBe('— —');
  });
});
