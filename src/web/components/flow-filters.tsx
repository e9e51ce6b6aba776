// The Flows page's filter form. Submitting writes the filters into the URL (so a filtered view is a
// link), and the page runs the query in the store from there.
import { fromLocalInput, toLocalInput } from '../format.js';
import {
  components,
  egressChoices,
  expectedPathChoices,
  outcomeChoices,
  pathNames,
  verdictChoices,
  verdictNames,
} from '../labels.js';

export interface FlowFilters {
  host: string;
  component: string;
  verdict: string;
  /** Expected path (`path` in the admin API and the page URL). */
  path: string;
  /** Egress the gateway used (`egress`). */
  egress: string;
  outcome: string;
  /** Who stored the flow (`gateway`: a gateway's id or `audit:<id>`). */
  gateway: string;
  from: number | undefined;
  to: number | undefined;
  limit: number;
}

export const pageSizes = [25, 50, 100, 500] as const;

type Choice = readonly [value: string, text: string];

export function filtersFromParams(params: URLSearchParams): FlowFilters {
  const number = (key: string) => {
    const text = params.get(key);
    const value = text === null || text === '' ? Number.NaN : Number(text);
    return Number.isFinite(value) ? value : undefined;
  };
  const limit = number('limit');
  return {
    host: params.get('host') ?? '',
    component: params.get('component') ?? '',
    verdict: params.get('verdict') ?? '',
    path: params.get('path') ?? '',
    egress: params.get('egress') ?? '',
    outcome: params.get('outcome') ?? '',
    gateway: params.get('gateway') ?? '',
    from: number('from'),
    to: number('to'),
    limit: limit !== undefined && limit > 0 && limit <= 1000 ? limit : 50,
  };
}

interface Props {
  filters: FlowFilters;
  onApply: (filters: FlowFilters) => void;
  /** The gateways in the store: the gateway field shows when there are two or more (or one is chosen). */
  gateways?: readonly string[];
}

export function FlowFilterForm({ filters, onApply, gateways = [] }: Props) {
  const gatewayChoices = gateways.filter((id) => id !== '');
  if (filters.gateway !== '' && !gatewayChoices.includes(filters.gateway))
    gatewayChoices.push(filters.gateway);
  const submit = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const text = (name: string) => ((form.get(name) as string | null) ?? '').trim();
    onApply({
      host: text('host'),
      component: text('component'),
      verdict: text('verdict'),
      path: text('path'),
      egress: text('egress'),
      outcome: text('outcome'),
      gateway: text('gateway'),
      from: fromLocalInput(text('from')),
      to: fromLocalInput(text('to')),
      limit: Number(text('limit')) || 50,
    });
  };
  // Uncontrolled fields (defaultValue, option `selected`): Preact resets a controlled field to its
  // prop on every re-render, which would wipe what someone is typing while results load. Keyed on
  // the filters instead, so the form shows what the URL says after back / forward.
  const key = JSON.stringify(filters);
  return (
    <form class="filters card" onSubmit={submit} key={key} aria-label="Flow filters">
      <div class="field wide">
        <label for="f-host">Host, SNI or address contains</label>
        <input
          id="f-host"
          name="host"
          type="search"
          value={filters.host}
          autocomplete="off"
          spellcheck={false}
        />
      </div>
      <Select
        id="f-component"
        name="component"
        label="Component"
        value={filters.component}
        choices={components.map((c) => [c, c] as const)}
      />
      <Select
        id="f-verdict"
        name="verdict"
        label="Verdict"
        value={filters.verdict}
        choices={verdictChoices.map((v) => [v, verdictNames[v] ?? v] as const)}
      />
      <Select
        id="f-expected"
        name="path"
        label="Expected path"
        value={filters.path}
        choices={expectedPathChoices.map((p) => [p, pathNames[p] ?? p] as const)}
      />
      <Select
        id="f-egress"
        name="egress"
        label="Egress path"
        value={filters.egress}
        choices={egressChoices.map((p) => [p, pathNames[p] ?? p] as const)}
      />
      <Select
        id="f-outcome"
        name="outcome"
        label="Outcome"
        value={filters.outcome}
        choices={outcomeChoices.map((o) => [o, o] as const)}
      />
      {(gatewayChoices.length > 1 || filters.gateway !== '') && (
        <Select
          id="f-gateway"
          name="gateway"
          label="Gateway"
          value={filters.gateway}
          choices={gatewayChoices.sort().map((id) => [id, id] as const)}
        />
      )}
      <div class="field">
        <label for="f-from">From (local time)</label>
        <input
          id="f-from"
          name="from"
          type="datetime-local"
          step={1}
          defaultValue={toLocalInput(filters.from)}
        />
      </div>
      <div class="field">
        <label for="f-to">To (local time)</label>
        <input id="f-to" name="to" type="datetime-local" step={1} defaultValue={toLocalInput(filters.to)} />
      </div>
      <div class="field">
        <label for="f-limit">Rows per page</label>
        <select id="f-limit" name="limit">
          {pageSizes.map((size) => (
            <option key={size} value={size} selected={size === filters.limit}>
              {size}
            </option>
          ))}
        </select>
      </div>
      <div class="form-actions">
        <button type="submit">Apply filters</button>
        <a class="button secondary" href="#/flows">
          Clear
        </a>
      </div>
    </form>
  );
}

function Select(props: {
  id: string;
  name: string;
  label: string;
  value: string;
  choices: readonly Choice[];
}) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select id={props.id} name={props.name}>
        <option value="" selected={props.value === ''}>
          any
        </option>
        {props.choices.map(([value, text]) => (
          <option key={value} value={value} selected={value === props.value}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}
