// The benchmark's availability arithmetic over an EndpointSlice timeline, and its rusage parsing (bench/).
import { describe, expect, it } from 'vitest';
import { availability, firstOnly, readyOf, type EndpointsSample } from '../../bench/endpoints-observer.ts';
import { parseRusage } from '../../bench/fleet.ts';

const s = (t: number, ...ready: string[]): EndpointsSample => ({ t, ready });

describe('availability over a window', () => {
  const rolling = [s(0, 'blue-1'), s(1000, 'blue-1'), s(1500), s(4000, 'new-1'), s(9000, 'new-1')];

  it('counts the time with no ready endpoint, the fewest and the most', () => {
    expect(availability(rolling, 500, 6000)).toEqual({
      zeroReadyMs: 2500,
      minReady: 0,
      maxReady: 1,
      events: 3,
    });
  });

  it('clips the zero-ready stretch to the window on both sides', () => {
    expect(availability(rolling, 2000, 3000)).toEqual({
      zeroReadyMs: 1000,
      minReady: 0,
      maxReady: 0,
      events: 0,
    });
    expect(availability(rolling, 1200, 2000)?.zeroReadyMs).toBe(500);
  });

  it('a hand-over that never drops to zero', () => {
    const bg = [s(0, 'b1', 'b2'), s(3000, 'b1', 'b2', 'g1'), s(3200, 'g1', 'g2'), s(3300, 'g1')];
    expect(availability(bg, 100, 5000)).toEqual({ zeroReadyMs: 0, minReady: 1, maxReady: 3, events: 3 });
  });

  it('says nothing when the timeline has no sample up to the window end', () => {
    expect(availability([s(5000, 'x')], 0, 4000)).toBeUndefined();
    expect(availability([], 0, 4000)).toBeUndefined();
  });
});

describe('first sample showing only green', () => {
  const tl = [s(0, 'md-core-a'), s(10, 'md-core-a', 'md-core-green-x'), s(20), s(30, 'md-core-green-x')];
  const green = (p: string): boolean => p.startsWith('md-core-green-');

  it('skips mixed and empty samples', () => {
    expect(firstOnly(tl, 0, green)?.t).toBe(30);
  });

  it('only after the given moment', () => {
    expect(firstOnly(tl, 31, green)).toBeUndefined();
  });
});

describe('ready endpoints of a slice', () => {
  it('takes ready unset as ready, names pods, falls back to addresses', () => {
    expect(
      readyOf({
        endpoints: [
          { addresses: ['10.0.0.1'], conditions: { ready: true }, targetRef: { name: 'p1' } },
          { addresses: ['10.0.0.2'], conditions: { ready: false }, targetRef: { name: 'p2' } },
          { addresses: ['10.0.0.3'], conditions: {} },
        ],
      }),
    ).toEqual(['p1', '10.0.0.3']);
  });
});

describe('rusage lines from /usr/bin/time', () => {
  it('sums CPU over the processes and keeps the largest RSS; other lines are ignored', () => {
    const text =
      'rusage 0.31 0.10 0.02 51200\nCommand exited with non-zero status 1\nrusage 2.00 0.05 0.01 40960\n';
    expect(parseRusage(text)).toEqual({ processes: 2, userS: 0.15, sysS: 0.03, maxRssKiB: 51200 });
  });

  it('nothing measured: undefined', () => {
    expect(parseRusage('')).toBeUndefined();
  });
});
