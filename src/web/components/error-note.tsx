// How a failed request shows: the API's code and message, announced to screen readers.
import { ApiError } from '../api/client.js';

export function ErrorNote({ error, what }: { error: Error | undefined; what: string }) {
  if (!error) return null;
  const detail = error instanceof ApiError ? `${error.message} (${error.code})` : error.message;
  return (
    <p class="error-note" role="alert">
      Could not load {what}: {detail}
    </p>
  );
}
