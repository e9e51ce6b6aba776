// Loads one API resource for a component; a change of path or params aborts the previous request
// so a fast typist never sees an older answer overwrite a newer one.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { apiGet, type Params } from '../api/client.js';
import { onTokenChange } from '../api/token.js';

export interface Resource<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
}

/** `refresh`: bump it (e.g. useLiveVersion()) to load again with the same path and params. */
export function useApi<T>(path: string | null, params: Params = {}, refresh = 0): Resource<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({
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
      (data) => setState({ data, loading: false }),
      (error: unknown) => {
        if (controller.signal.aborted) return;
        setState((previous) => ({ data: previous.data, error: error as Error, loading: false }));
      },
    );
    return () => controller.abort();
  }, [key, generation, refresh]);

  return { data: state.data, error: state.error, loading: state.loading, reload };
}
