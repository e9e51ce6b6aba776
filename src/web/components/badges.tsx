// Small labels for a verdict and a path, used in every table.
import { pathNames, verdictHelp, verdictNames } from '../labels.js';

export function VerdictBadge({ verdict }: { verdict: string | null | undefined }) {
  const key = verdict ?? 'unclassified';
  return (
    <span class={`badge verdict-${key}`} title={verdictHelp[key]}>
      {verdictNames[key] ?? key}
    </span>
  );
}

export function PathLabel({ path }: { path: string | null | undefined }) {
  if (!path) return <span class="muted">–</span>;
  return (
    <span class={`path path-${path}`}>
      <span class="path-dot" aria-hidden="true" />
      {pathNames[path] ?? path}
    </span>
  );
}
