// A rule's source as written in the catalog ("seed § SaaS table, row Login"), with each source
// document it names linked to its title. Citations are what make an exception defensible.
import type { CatalogView } from '../api/types.js';

/** The source keys a citation names: the first word of each `;`-separated part. */
export function citedSources(source: string, sources: CatalogView['sources']): string[] {
  return source
    .split(';')
    .map((part) => part.trim().split(/[\s,]/)[0] ?? '')
    .filter((key, i, all) => key in sources && all.indexOf(key) === i);
}

export function Citation({ source, catalog }: { source: string | null; catalog: CatalogView | undefined }) {
  if (!source) return <span class="muted">no rule</span>;
  const documents = catalog ? citedSources(source, catalog.sources) : [];
  return (
    <span class="citation">
      <q>{source}</q>
      {documents.map((key) => {
        const doc = catalog?.sources[key];
        if (!doc) return null;
        return (
          <span key={key} class="citation-doc">
            {' — '}
            {doc.url ? (
              <a href={doc.url} rel="noreferrer noopener" target="_blank">
                {doc.title}
              </a>
            ) : (
              doc.title
            )}
            {doc.date ? ` (${doc.date})` : ''}
          </span>
        );
      })}
    </span>
  );
}
