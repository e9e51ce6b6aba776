// The admin token lives in this tab's sessionStorage only: it is gone when the tab closes, is never
// written into a URL (where logs, history and Referer headers would keep it) and is sent only as an
// Authorization header to this origin.
const KEY = 'pathwarden.adminToken';

type Listener = () => void;
const listeners = new Set<Listener>();

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  try {
    if (token === null || token === '') sessionStorage.removeItem(KEY);
    else sessionStorage.setItem(KEY, token);
  } catch {
    // Storage disabled: the token lasts until the page reloads, which is still usable.
  }
  for (const listener of listeners) listener();
}

/** Called when the token changes, so open streams reconnect with it. */
export function onTokenChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function authHeaders(): Record<string, string> {
  const token = getToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}
