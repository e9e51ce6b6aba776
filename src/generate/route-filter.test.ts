// Route-filter guidance: the regional community of the tenant's region, from Microsoft's table,
// and the catalog destinations by path; unknown regions are an error that lists the known ones.
import { describe, expect, test } from 'vitest';
import { findRegion, regionCommunities } from './bgp-communities.js';
import { generateRouteFilter } from './route-filter.js';
import { builtinPolicy, exampleTopology, topology } from './testing/fixtures.js';

const policy = builtinPolicy();
const example = exampleTopology();

describe('generate route-filter', () => {
  test('matches the snapshots (text and --json) for examples/topology.yaml (westeurope)', async () => {
    await expect(generateRouteFilter(policy, example)).toMatchFileSnapshot(
      './__snapshots__/route-filter-westeurope.txt',
    );
    await expect(generateRouteFilter(policy, example, { json: true })).toMatchFileSnapshot(
      './__snapshots__/route-filter-westeurope.json',
    );
  });

  test.each([
    ['westeurope', '12076:51002'],
    ['North Europe', '12076:51003'],
    ['EASTUS', '12076:51004'],
    ['India South', '12076:51019'],
    ['southindia', '12076:51019'],
    ['germanywestcentral', '12076:51041'],
    ['US Gov Virginia', '12076:51105'],
    ['westus3', '12076:51044'],
    ['newzealandnorth', '12076:51059'],
    ['chinanorth3', '12076:51305'],
  ])('region %s has community %s', (name, community) => {
    expect(findRegion(name)?.community).toBe(community);
    expect(generateRouteFilter(policy, topology({}), { region: name })).toContain(
      `Regional BGP community: ${community}`,
    );
  });

  test.each([
    ['westeurope', '"12076:51002","12076:5060"', '12076:5060'],
    ['usgovvirginia', '"12076:51105","12076:5160"', '12076:5160'],
    ['usdodeast', '"12076:51205","12076:5160"', '12076:5160'],
  ])(
    '%s: the sign-in (Microsoft Entra ID) community of its cloud is in the PowerShell line',
    (region, list, signIn) => {
      const text = generateRouteFilter(policy, topology({}), { region });
      expect(text).toContain(`-CommunityList ${list}\n`);
      expect(text).toContain(`its own service community ${signIn} in this cloud`);
      if (signIn !== '12076:5060') expect(text).not.toContain('12076:5060');
      const json = JSON.parse(generateRouteFilter(policy, topology({}), { region, json: true })) as {
        serviceCommunities: { community: string }[];
      };
      expect(json.serviceCommunities.map((entry) => entry.community)).toEqual([signIn]);
    },
  );

  test('the China cloud has no sign-in community: the output says credentials cannot ride the circuit', () => {
    const text = generateRouteFilter(policy, topology({}), { region: 'chinaeast2' });
    expect(text).toContain('-CommunityList "12076:51303"\n');
    expect(text).toContain('lists no community in this cloud');
    expect(text).not.toMatch(/12076:5[01]60/);
  });

  test('the table has unique names and regional (51xxx) communities only', () => {
    const names = regionCommunities.map((region) => region.name);
    expect(new Set(names).size).toBe(names.length);
    for (const region of regionCommunities) expect(region.community).toMatch(/^12076:51\d{3}$/);
  });

  test('lists what the circuit carries, what is either, and what stays on the Internet', () => {
    const result = JSON.parse(generateRouteFilter(policy, example, { json: true })) as {
      community: string;
      paths: Record<string, { destination: string }[]>;
    };
    const names = (path: string) => (result.paths[path] ?? []).map((entry) => entry.destination);
    expect(result.community).toBe('12076:51002');
    expect(names('expressroute')).toEqual(
      expect.arrayContaining(['api.powerbi.com', 'login.microsoftonline.com', '*.analysis.windows.net']),
    );
    expect(names('either')).toEqual(expect.arrayContaining(['app.powerbi.com', '*.powerbi.com']));
    expect(names('internet')).toEqual(expect.arrayContaining(['*.azureedge.net', 'ajax.aspnetcdn.com']));
    expect(names('internet')).not.toContain('api.powerbi.com');
  });

  test.each([
    [{}, /needs the tenant's Azure region/],
    [{ region: 'narnia' }, /unknown Azure region "narnia" \(known: eastus, eastus2,/],
  ])('refuses %j', (options, message) => {
    expect(() => generateRouteFilter(policy, topology({}), options)).toThrow(message);
  });
});

describe('generate route-filter: why each host stays on the Internet', () => {
  test('CDN hosts say CDN, the others what third-party or public service they are (text and --json)', () => {
    const text = generateRouteFilter(policy, example);
    const line = (host: string) => text.split('\n').find((l) => l.trimStart().startsWith(`${host} `)) ?? '';
    expect(line('maxcdn.bootstrapcdn.com')).toMatch(/CDN/);
    expect(line('*.azureedge.net')).toMatch(/CDN/);
    expect(line('*.localytics.com')).toMatch(/analytics/);
    expect(line('platform.bing.com')).toMatch(/map service/);
    expect(line('support.powerbi.com')).toMatch(/public web site/);
    const json = JSON.parse(generateRouteFilter(policy, example, { json: true })) as {
      paths: Record<string, { destination: string; why?: string }[]>;
    };
    for (const entry of json.paths.internet ?? []) expect(entry.why, entry.destination).toBeTruthy();
    expect(json.paths.internet?.find((e) => e.destination === 'ajax.aspnetcdn.com')?.why).toMatch(/^CDN/);
  });
});
