// Regional BGP communities of ExpressRoute Microsoft peering: a route filter that allows the
// community of the tenant's region makes the circuit advertise that region's prefixes.
// Data: Microsoft Learn, "ExpressRoute routing requirements", section "Support for BGP
// communities" (MicrosoftDocs/azure-docs articles/expressroute/expressroute-routing.md, ms.date
// 2026-03-12, read 2026-12-05), column "Regional BGP community (Microsoft peering)", table "BGP
// community support in national clouds", and the two "Service to BGP community value" tables
// (Microsoft Entra ID: 12076:5060 in the public cloud, 12076:5160 in US Government).

export const bgpCommunitySource = {
  title:
    'ExpressRoute routing requirements - Support for BGP communities (Microsoft Learn, MicrosoftDocs/azure-docs articles/expressroute/expressroute-routing.md, ms.date 2026-03-12)',
  url: 'https://learn.microsoft.com/azure/expressroute/expressroute-routing#bgp',
} as const;

export interface RegionCommunity {
  /** Azure region name as the CLI and ARM spell it. */
  name: string;
  /** Name in the Microsoft table. */
  displayName: string;
  geography: string;
  community: string;
  /** The cloud whose service communities apply. */
  cloud: Cloud;
}

export type Cloud = 'public' | 'usgov' | 'china';

/**
 * Microsoft Entra ID's service community per cloud (the sign-in endpoint belongs to it). The
 * article lists none for the China cloud, where it says Office 365 communities are not supported.
 */
export const signInCommunities: Readonly<Record<Cloud, string | undefined>> = {
  public: '12076:5060',
  usgov: '12076:5160',
  china: undefined,
};

const table: readonly [string, string, string, number][] = [
  ['eastus', 'East US', 'North America', 51004],
  ['eastus2', 'East US 2', 'North America', 51005],
  ['westus', 'West US', 'North America', 51006],
  ['westus2', 'West US 2', 'North America', 51026],
  ['westus3', 'West US 3', 'North America', 51044],
  ['westcentralus', 'West Central US', 'North America', 51027],
  ['northcentralus', 'North Central US', 'North America', 51007],
  ['southcentralus', 'South Central US', 'North America', 51008],
  ['centralus', 'Central US', 'North America', 51009],
  ['canadacentral', 'Canada Central', 'North America', 51020],
  ['canadaeast', 'Canada East', 'North America', 51021],
  ['brazilsouth', 'Brazil South', 'South America', 51014],
  ['northeurope', 'North Europe', 'Europe', 51003],
  ['westeurope', 'West Europe', 'Europe', 51002],
  ['uksouth', 'UK South', 'Europe', 51024],
  ['ukwest', 'UK West', 'Europe', 51025],
  ['francecentral', 'France Central', 'Europe', 51030],
  ['francesouth', 'France South', 'Europe', 51031],
  ['switzerlandnorth', 'Switzerland North', 'Europe', 51038],
  ['switzerlandwest', 'Switzerland West', 'Europe', 51039],
  ['germanynorth', 'Germany North', 'Europe', 51040],
  ['germanywestcentral', 'Germany West Central', 'Europe', 51041],
  ['norwayeast', 'Norway East', 'Europe', 51042],
  ['norwaywest', 'Norway West', 'Europe', 51043],
  ['eastasia', 'East Asia', 'Asia Pacific', 51010],
  ['southeastasia', 'Southeast Asia', 'Asia Pacific', 51011],
  ['japaneast', 'Japan East', 'Japan', 51012],
  ['japanwest', 'Japan West', 'Japan', 51013],
  ['australiaeast', 'Australia East', 'Australia', 51015],
  ['australiasoutheast', 'Australia Southeast', 'Australia', 51016],
  ['australiacentral', 'Australia Central', 'Australia Government', 51032],
  ['australiacentral2', 'Australia Central 2', 'Australia Government', 51033],
  // The table says "India South/West/Central"; Azure names these regions southindia, westindia, centralindia.
  ['southindia', 'India South', 'India', 51019],
  ['westindia', 'India West', 'India', 51018],
  ['centralindia', 'India Central', 'India', 51017],
  ['koreasouth', 'Korea South', 'Korea', 51028],
  ['koreacentral', 'Korea Central', 'Korea', 51029],
  ['newzealandnorth', 'New Zealand North', 'New Zealand', 51059],
  ['southafricanorth', 'South Africa North', 'South Africa', 51034],
  ['southafricawest', 'South Africa West', 'South Africa', 51035],
  ['uaenorth', 'UAE North', 'UAE', 51036],
  ['uaecentral', 'UAE Central', 'UAE', 51037],
  ['usgovarizona', 'US Gov Arizona', 'US Government (national cloud)', 51106],
  ['usgoviowa', 'US Gov Iowa', 'US Government (national cloud)', 51109],
  ['usgovvirginia', 'US Gov Virginia', 'US Government (national cloud)', 51105],
  ['usgovtexas', 'US Gov Texas', 'US Government (national cloud)', 51108],
  ['usdodcentral', 'US DoD Central', 'US Government (national cloud)', 51209],
  ['usdodeast', 'US DoD East', 'US Government (national cloud)', 51205],
  ['chinanorth', 'China North', 'China (national cloud)', 51301],
  ['chinaeast', 'China East', 'China (national cloud)', 51302],
  ['chinaeast2', 'China East 2', 'China (national cloud)', 51303],
  ['chinanorth2', 'China North 2', 'China (national cloud)', 51304],
  ['chinanorth3', 'China North 3', 'China (national cloud)', 51305],
];

export const regionCommunities: readonly RegionCommunity[] = table.map(
  ([name, displayName, geography, value]) => ({
    name,
    displayName,
    geography,
    community: `12076:${value}`,
    cloud: geography.startsWith('US Government')
      ? 'usgov'
      : geography.startsWith('China')
        ? 'china'
        : 'public',
  }),
);

const normalize = (text: string) => text.toLowerCase().replace(/[^a-z0-9]/g, '');

/** Finds a region by its Azure name (westeurope) or the table's name (West Europe, India South). */
export function findRegion(text: string): RegionCommunity | undefined {
  const key = normalize(text);
  return regionCommunities.find((region) => region.name === key || normalize(region.displayName) === key);
}
