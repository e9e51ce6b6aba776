// Asks for the admin token when the API answers 401. The token stays in this tab only (see
// api/token.ts); the native <dialog> gives focus trapping and Escape for free.
import { useEffect, useRef, useState } from 'preact/hooks';
import { onAuthRequired } from '../api/client.js';
import { getToken, setToken } from '../api/token.js';

export function TokenDialog() {
  const dialog = useRef<HTMLDialogElement>(null);
  const [rejected, setRejected] = useState(false);

  useEffect(
    () =>
      onAuthRequired(() => {
        setRejected(getToken() !== null);
        if (dialog.current && !dialog.current.open) dialog.current.showModal();
      }),
    [],
  );

  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const value = (new FormData(form).get('token') as string | null)?.trim() ?? '';
    if (value === '') return;
    form.reset();
    dialog.current?.close();
    setToken(value);
  };

  return (
    <dialog ref={dialog} class="token-dialog" aria-labelledby="token-title">
      <form onSubmit={submit}>
        <h2 id="token-title">Admin token</h2>
        <p>
          This gateway's admin API needs its token (<code>adminToken</code> in the gateway config, or{' '}
          <code>--token</code>). It is kept in this browser tab only and sent as an Authorization header.
        </p>
        {rejected && (
          <p class="error-note" role="alert">
            The token was not accepted.
          </p>
        )}
        <label for="token-input">Token</label>
        <input id="token-input" name="token" type="password" autocomplete="off" required minLength={1} />
        <div class="dialog-actions">
          <button type="submit">Use token</button>
          <button type="button" class="secondary" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}

export function forgetToken(): void {
  setToken(null);
}
