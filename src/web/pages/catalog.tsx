// Catalog: the rules with their sources, filterable, and the explain box.
import { useMemo, useState } from 'preact/hooks';
import type { CatalogView, Rule } from '../api/types.js';
import { PathLabel } from '../components/badges.js';
import { Citation } from '../components/citation.js';
import { ErrorNote } from '../components/error-note.js';
import { ExplainBox } from '../components/explain-box.js';
import { TableScroll } from '../components/table-scroll.js';
import { useCatalog } from '../hooks/use-catalog.js';

export function CatalogPage({ params }: { params: URLSearchParams }) {
  const { catalog, error } = useCatalog();
  return (
    <>
      <div class="page-head">
        <h1 tabIndex={-1}>Catalog</h1>
        {catalog && (
          <p class="muted">
            {catalog.title ?? catalog.name} · version {catalog.version} · {catalog.rules.length} rules
          </p>
        )}
      </div>
      <ExplainBox catalog={catalog} initial={params.get('target') ?? ''} />
      <ErrorNote error={error} what="the catalog" />
      {catalog && <RuleTable catalog={catalog} />}
      {catalog && <Sources catalog={catalog} />}
    </>
  );
}

function matches(rule: Rule, text: string): boolean {
  if (text === '') return true;
  const haystack = [
    rule.id,
    rule.activity,
    rule.path,
    rule.data,
    rule.source,
    ...rule.components,
    ...rule.hosts,
    ...(rule.prefixes ?? []),
  ]
    .join(' ')
    .toLowerCase();
  return text
    .toLowerCase()
    .split(/\s+/)
    .every((word) => haystack.includes(word));
}

function RuleTable({ catalog }: { catalog: CatalogView }) {
  const [filter, setFilter] = useState('');
  const rules = useMemo(
    () => catalog.rules.filter((rule) => matches(rule, filter.trim())),
    [catalog, filter],
  );
  return (
    <section class="card" aria-labelledby="rules-title">
      <h2 id="rules-title">Rules</h2>
      <div class="field wide">
        <label for="rule-filter">Filter rules (id, activity, host, path, source)</label>
        <input
          id="rule-filter"
          type="search"
          value={filter}
          onInput={(event) => setFilter((event.currentTarget as HTMLInputElement).value)}
          autocomplete="off"
        />
      </div>
      <p class="muted" aria-live="polite">
        {rules.length} of {catalog.rules.length} rules
      </p>
      <TableScroll label="Catalog rules">
        <table class="rules">
          <thead>
            <tr>
              <th scope="col">Rule</th>
              <th scope="col">Activity</th>
              <th scope="col">Components</th>
              <th scope="col">Destinations</th>
              <th scope="col">Path</th>
              <th scope="col">Source</th>
            </tr>
          </thead>
          <tbody>
            {rules.map((rule) => (
              <tr key={rule.id} data-rule={rule.id}>
                <th scope="row" class="rule-id">
                  {rule.id}
                </th>
                <td>
                  {rule.activity}
                  {rule.note && <p class="muted small">{rule.note}</p>}
                </td>
                <td>{rule.components.join(', ')}</td>
                <td class="host">
                  <Destinations rule={rule} />
                </td>
                <td>
                  <PathLabel path={rule.path} />
                </td>
                <td>
                  <Citation source={rule.source} catalog={catalog} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableScroll>
    </section>
  );
}

function Destinations({ rule }: { rule: Rule }) {
  const all = [...rule.hosts, ...(rule.prefixes ?? [])];
  if (all.length === 0) return <span class="muted">no fixed destinations</span>;
  const shown = all.slice(0, 8);
  return (
    <>
      <ul class="plain">
        {shown.map((destination) => (
          <li key={destination}>{destination}</li>
        ))}
      </ul>
      {all.length > shown.length && <span class="muted">and {all.length - shown.length} more</span>}
      {rule.ports && <span class="muted"> ports {rule.ports.join(', ')}</span>}
    </>
  );
}

function Sources({ catalog }: { catalog: CatalogView }) {
  return (
    <section class="card" aria-labelledby="sources-title">
      <h2 id="sources-title">Sources</h2>
      <dl class="sources">
        {Object.entries(catalog.sources).map(([key, doc]) => (
          <div key={key}>
            <dt>{key}</dt>
            <dd>
              {doc.url ? (
                <a href={doc.url} rel="noreferrer noopener" target="_blank">
                  {doc.title}
                </a>
              ) : (
                doc.title
              )}
              {doc.date ? ` (${doc.date})` : ''}
            </dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
