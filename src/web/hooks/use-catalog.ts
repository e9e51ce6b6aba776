// The catalog changes only when the server restarts, so it is fetched once per page load and
// shared by the pages that cite rules.
import { useEffect, useState } from 'preact/hooks';
import { apiGet } from '../api/client.js';
import type { CatalogView } from '../api/types.js';

let pending: Promise<CatalogView> | undefined;

export function useCatalog(): { catalog: CatalogView | undefined; error: Error | undefined } {
  const [state, setState] = useState<{ catalog?: CatalogView; error?: Error }>({});
  useEffect(() => {
    let live = true;
    pending ??= apiGet<CatalogView>('/api/catalog');
    pending.then(
      (catalog) => live && setState({ catalog }),
      (error: unknown) => {
        pending = undefined; // a 401 is followed by a token; try again then
        if (live) setState({ error: error as Error });
      },
    );
    return () => {
      live = false;
    };
  }, []);
  return { catalog: state.catalog, error: state.error };
}
