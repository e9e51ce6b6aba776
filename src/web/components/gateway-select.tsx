// The gateway filter of the overview, Exceptions and Leaks pages: a choice of the store's writers that
// navigates to the same page with `gateway=` (every other parameter of the page is dropped, so paging
// starts again at the newest flows).
import type { FlowStats } from '../api/types.js';
import { navigate, type Page } from '../router.js';

/** Shown only for a fleet (more than one writer), or while a gateway is chosen, so it can be cleared. */
export function GatewaySelect({
  page,
  gateway,
  byGateway,
}: {
  page: Page;
  gateway: string;
  byGateway: FlowStats['byGateway'];
}) {
  const ids = Object.keys(byGateway).filter((id) => id !== '');
  if (gateway !== '' && !ids.includes(gateway)) ids.push(gateway);
  if (ids.length < 2 && gateway === '') return null;
  return (
    <div class="field inline">
      <label for="gateway">Gateway</label>
      <select
        id="gateway"
        value={gateway}
        onChange={(event) => navigate(page, { gateway: (event.currentTarget as HTMLSelectElement).value })}
      >
        <option value="">All gateways</option>
        {ids.sort().map((id) => (
          <option key={id} value={id}>
            {id}
          </option>
        ))}
      </select>
    </div>
  );
}
