// "Which path does this take, and why?": the explain command, in the page (/api/explain).
import { useState } from 'preact/hooks';
import { ApiError, apiGet } from '../api/client.js';
import type { CatalogView, Decision } from '../api/types.js';
import { components, pathNames } from '../labels.js';
import { PathLabel } from './badges.js';
import { Citation } from './citation.js';

type Answer = { decision: Decision } | { error: string } | undefined;

export function ExplainBox({ catalog, initial }: { catalog: CatalogView | undefined; initial: string }) {
  const [answer, setAnswer] = useState<Answer>(undefined);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const target = ((form.get('target') as string | null) ?? '').trim();
    const component = (form.get('component') as string | null) ?? 'saas';
    if (target === '') return;
    setBusy(true);
    try {
      setAnswer({ decision: await apiGet<Decision>('/api/explain', { target, component }) });
    } catch (error) {
      setAnswer({ error: error instanceof ApiError ? `${error.message} (${error.code})` : String(error) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="explain-title">
      <h2 id="explain-title">Explain a destination</h2>
      <form class="explain-form" onSubmit={submit}>
        <div class="field wide">
          <label for="explain-target">URL, host name or IP address</label>
          <input
            id="explain-target"
            name="target"
            type="text"
            required
            autocomplete="off"
            spellcheck={false}
            placeholder="https://app.powerbi.com/groups/me"
            defaultValue={initial}
          />
        </div>
        <div class="field">
          <label for="explain-component">Component</label>
          <select id="explain-component" name="component">
            {components.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </div>
        <div class="form-actions">
          <button type="submit" disabled={busy}>
            Explain
          </button>
        </div>
      </form>
      <div class="explain-answer" aria-live="polite" data-testid="explain-answer">
        {answer && 'error' in answer && (
          <p class="error-note" role="alert">
            {answer.error}
          </p>
        )}
        {answer && 'decision' in answer && <DecisionView decision={answer.decision} catalog={catalog} />}
      </div>
    </section>
  );
}

function DecisionView({ decision, catalog }: { decision: Decision; catalog: CatalogView | undefined }) {
  return (
    <dl class="facts decision">
      <div>
        <dt>Host</dt>
        <dd>{decision.host}</dd>
      </div>
      <div>
        <dt>Path</dt>
        <dd data-testid="explain-path">
          <PathLabel path={decision.path} />
          <span class="visually-hidden"> ({pathNames[decision.path] ?? decision.path})</span>
        </dd>
      </div>
      <div>
        <dt>Rule</dt>
        <dd>
          {decision.rule ? (
            <>
              <span class="rule-id">{decision.rule.id}</span> {decision.rule.activity}
              {decision.rule.matched ? ` [${decision.rule.matched}]` : ''}
            </>
          ) : (
            'none'
          )}
        </dd>
      </div>
      {decision.rule && (
        <div>
          <dt>Source</dt>
          <dd>
            <Citation source={decision.rule.source} catalog={catalog} />
          </dd>
        </div>
      )}
      <div class="span">
        <dt>Reason</dt>
        <dd data-testid="explain-reason">{decision.reason}</dd>
      </div>
    </dl>
  );
}
