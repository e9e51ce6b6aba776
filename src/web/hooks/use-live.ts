// Components follow the live stream through these hooks instead of opening streams of their own.
import { useEffect, useState } from 'preact/hooks';
import { type LiveState, latestValue, subscribe } from '../api/events.js';
import type { HealthEvent, TickEvent } from '../api/types.js';

export function useTick(): TickEvent | undefined {
  const [tick, setTick] = useState(() => latestValue('tick'));
  useEffect(() => subscribe('tick', setTick), []);
  return tick;
}

export function useHealth(): HealthEvent | undefined {
  const [health, setHealth] = useState(() => latestValue('health'));
  useEffect(() => subscribe('health', setHealth), []);
  return health;
}

export function useLiveState(): LiveState {
  const [state, setState] = useState<LiveState>(() => latestValue('state') ?? 'connecting');
  useEffect(() => subscribe('state', setState), []);
  return state;
}

/**
 * A number that changes when the store has new flows, throttled: pages add it to their request keys
 * to refresh live without re-querying a busy store on every event. Health events do not count: they
 * change no stored numbers (a refused flow arrives as a new flow), and the one sent on connect would
 * re-run the page's first query while it is still running.
 */
export function useLiveVersion(minIntervalMs = 2000): number {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    let last = 0;
    let pending: ReturnType<typeof setTimeout> | undefined;
    const bump = () => {
      const wait = last + minIntervalMs - Date.now();
      if (wait <= 0) {
        last = Date.now();
        setVersion((n) => n + 1);
      } else if (pending === undefined) {
        pending = setTimeout(() => {
          pending = undefined;
          last = Date.now();
          setVersion((n) => n + 1);
        }, wait);
      }
    };
    const offTick = subscribe('tick', (tick) => {
      if (tick.newFlows > 0) bump();
    });
    return () => {
      offTick();
      if (pending !== undefined) clearTimeout(pending);
    };
  }, [minIntervalMs]);
  return version;
}
