// Loads one API resource for a component; a change of path or params aborts the previous request
// so a fast typist never sees an older answer overwrite a newer one.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { apiGet, type Params } from '../api/client.js';
import { onTokenChange } from '../api/token.js';

export interface Resource<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  /** True while `data` still answers an earlier path or params (the new answer has not arrived). */
  stale: boolean;
  reload: () => void;
}

/**
 * The value that goes with the data on screen: `value` once the data for the current params has
 * arrived, the previous value while it loads. A pager's position (kept in the URL) must change
 * together with the rows it describes, not a request earlier.
 */
export function useSettled<V>(value: V, stale: boolean): V {
  const settled = useRef(value);
  if (!stale) settled.current = value;
  return settled.current;
}

/** `refresh`: bump it (e.g. useLiveVersion()) to load again with the same path and params. */
export function useApi<T>(path: string | null, params: Params = {}, refresh = 0): Resource<T> {
  const [state, setState] = useState<{ data?: T; dataKey?: string | null; error?: Error; loading: boolean }>({
    loading: path !== null,
  });
  const [generation, setGeneration] = useState(0);
  const key = path === null ? null : `${path}?${JSON.stringify(params)}`;
  const paramsRef = useRef(params);
  paramsRef.current = params;
  const reload = useCallback(() => setGeneration((n) => n + 1), []);

  useEffect(() => onTokenChange(reload), [reload]);

  // `key` stands for path + params (params is a new object on every render); `generation` forces a reload.
  useEffect(() => {
    if (path === null) return;
    const controller = new AbortController();
    setState((previous) => ({ ...previous, loading: true }));
    apiGet<T>(path, paramsRef.current, controller.signal).then(
      (data) => setState({ data, dataKey: key, loading: false }),
      (error: unknown) => {
        if (controller.signal.aborted) return;
        setState((previous) => ({
          data: previous.data,
          dataKey: previous.dataKey,
          error: error as Error,
          loading: false,
        }));
      },
    );
    return () => controller.abort();
  }, [key, generation, refresh]);

  const stale = state.data !== undefined && state.dataKey !== key;
  return { data: state.data, error: state.error, loading: state.loading, stale, reload };
}
