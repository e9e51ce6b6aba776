// Previous / next links for a page of a store query; the position is part of the URL.
interface Props {
  total: number;
  offset: number;
  limit: number;
  shown: number;
  hrefFor: (offset: number) => string;
  label: string;
}

export function Pager({ total, offset, limit, shown, hrefFor, label }: Props) {
  const first = total === 0 ? 0 : offset + 1;
  const last = offset + shown;
  const hasPrevious = offset > 0;
  const hasNext = last < total;
  return (
    <nav class="pager" aria-label={label}>
      <p class="pager-position" aria-live="polite">
        {first.toLocaleString('en-US')}–{last.toLocaleString('en-US')} of{' '}
        <span data-testid="total">{total.toLocaleString('en-US')}</span>
      </p>
      {hasPrevious ? (
        <a class="button" href={hrefFor(Math.max(0, offset - limit))} rel="prev">
          Previous
        </a>
      ) : (
        <span class="button" aria-disabled="true">
          Previous
        </span>
      )}
      {hasNext ? (
        <a class="button" href={hrefFor(offset + limit)} rel="next">
          Next
        </a>
      ) : (
        <span class="button" aria-disabled="true">
          Next
        </span>
      )}
    </nav>
  );
}
