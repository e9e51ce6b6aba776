// Importers that turn Microsoft's published data into catalog overlays (YAML loadable with
// --catalog), so the catalog follows Microsoft without hand copying: Azure Service Tags files
// and the Microsoft 365 endpoint web service. Unknown fields are ignored (both formats grow);
// a malformed file is refused with located problems.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { stringify } from 'yaml';
import { z } from 'zod';
import { PathwardenError } from '../errors.js';
import { parseHostPattern } from '../match/host.js';
import { parsePrefix } from '../match/ip.js';
import { parseLocatedYaml } from '../util/located-yaml.js';
import type { CatalogInput } from './schema.js';

// z.object (not strictObject): fields Microsoft adds later are ignored, as its documentation asks.
const serviceTagsSchema = z.object({
  changeNumber: z.number().int(),
  cloud: z.string(),
  values: z.array(
    z.object({
      name: z.string().min(1),
      id: z.string().optional(),
      properties: z.object({
        changeNumber: z.number().int().optional(),
        region: z.string().optional(),
        systemService: z.string().optional(),
        addressPrefixes: z.array(
          z.string().refine((text) => typeof parsePrefix(text) !== 'string', 'expected a CIDR prefix'),
        ),
      }),
    }),
  ),
});

const m365Schema = z.array(
  z.object({
    id: z.number().int(),
    serviceArea: z.string(),
    serviceAreaDisplayName: z.string().optional(),
    urls: z.array(z.string()).optional(),
    ips: z
      .array(z.string().refine((text) => typeof parsePrefix(text) !== 'string', 'expected a CIDR prefix'))
      .optional(),
    tcpPorts: z.string().optional(),
    udpPorts: z.string().optional(),
    category: z.string().optional(),
    expressRoute: z.boolean(),
    required: z.boolean().optional(),
    notes: z.string().optional(),
  }),
);

function readInput(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (cause) {
    throw new PathwardenError('PW_ERR_IMPORT_INVALID', `cannot read ${file}: ${String(cause)}`, { cause });
  }
}

function parseOrThrow<S extends z.ZodType>(text: string, file: string, schema: S, what: string): z.output<S> {
  const parsed = parseLocatedYaml(text, file, schema);
  if (parsed.value === undefined || parsed.problems.length > 0) {
    throw new PathwardenError(
      'PW_ERR_IMPORT_INVALID',
      `${file} is not ${what} (${parsed.problems.length} problem(s))`,
      { problems: parsed.problems },
    );
  }
  return parsed.value as z.output<S>;
}

const slug = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

/** `ServiceTags_Public_20260105.json` -> `2026-01-05`. */
function dateOfFileName(file: string): string | undefined {
  const match = /(\d{4})(\d{2})(\d{2})\.json$/i.exec(basename(file));
  return match ? `${match[1]}-${match[2]}-${match[3]}` : undefined;
}

export interface ServiceTagsImport {
  tag?: string;
  region?: string;
}

/** An overlay catalog with one `expressroute` rule carrying the prefixes of a service tag. */
export function importServiceTags(file: string, options: ServiceTagsImport = {}): CatalogInput {
  const tags = parseOrThrow(readInput(file), file, serviceTagsSchema, 'an Azure Service Tags file');
  const base = options.tag ?? 'PowerBI';
  const wanted = (options.region ? `${base}.${options.region}` : base).toLowerCase();
  const value = tags.values.find((candidate) => candidate.name.toLowerCase() === wanted);
  if (!value) {
    throw new PathwardenError(
      'PW_ERR_IMPORT_INVALID',
      `${file} has no service tag "${options.region ? `${base}.${options.region}` : base}" (changeNumber ${tags.changeNumber})`,
    );
  }
  const date = dateOfFileName(file);
  const sourceKey = `servicetags-${tags.changeNumber}`;
  return {
    schema: 'pathwarden.catalog/v1',
    name: `servicetag-${slug(value.name)}`,
    version: String(tags.changeNumber),
    description: `Imported by \`pathwarden catalog import service-tags\` from ${basename(file)}.`,
    sources: {
      [sourceKey]: {
        title: `Azure IP Ranges and Service Tags, cloud ${tags.cloud}, changeNumber ${tags.changeNumber} (${basename(file)})`,
        url: 'https://www.microsoft.com/download/details.aspx?id=56519',
        ...(date ? { date } : {}),
      },
    },
    rules: [
      {
        id: `servicetag.${slug(value.name)}`,
        components: 'all',
        activity: `Address ranges of the Azure service tag ${value.name}`,
        hosts: [],
        prefixes: value.properties.addressPrefixes,
        path: 'expressroute',
        data: 'service-data',
        note: `Service tag ${value.name}${value.properties.region ? ` (region ${value.properties.region})` : ''}: ${value.properties.addressPrefixes.length} prefixes, tag changeNumber ${value.properties.changeNumber ?? 'n/a'}. Reached over ExpressRoute Microsoft peering through the regional BGP community.`,
        source: `${sourceKey}, tag "${value.name}"${date ? `, file date ${date}` : ''}`,
      },
    ],
  };
}

export interface M365Import {
  /** Service areas to import (default: Common, the identity and shared sets). */
  serviceAreas?: readonly string[];
  /** Version of the endpoint data (`YYYYMMDDNN` from /version), cited in the sources. */
  version?: string;
}

export interface M365Result {
  catalog: CatalogInput;
  /** URLs whose wildcard shape the model does not have (e.g. `*excel.officeapps.live.com`). */
  skipped: string[];
}

/** An overlay catalog with one rule per endpoint set: expressRoute true -> `expressroute`. */
export function importM365Endpoints(file: string, options: M365Import = {}): M365Result {
  const sets = parseOrThrow(readInput(file), file, m365Schema, 'Microsoft 365 endpoint data');
  const areas = new Set((options.serviceAreas ?? ['Common']).map((area) => area.toLowerCase()));
  const version = options.version ?? 'unversioned';
  const sourceKey = `m365-endpoints-${version}`;
  const skipped: string[] = [];
  const rules: CatalogInput['rules'] = [];
  for (const set of sets) {
    if (!areas.has(set.serviceArea.toLowerCase())) continue;
    const hosts = (set.urls ?? []).filter((url) => {
      const ok = typeof parseHostPattern(url) !== 'string';
      if (!ok) skipped.push(url);
      return ok;
    });
    const prefixes = set.ips ?? [];
    if (hosts.length === 0 && prefixes.length === 0) continue;
    rules.push({
      id: `m365.${slug(set.serviceArea)}-${set.id}`,
      components: 'all',
      activity: `Microsoft 365 ${set.serviceAreaDisplayName ?? set.serviceArea}, endpoint set ${set.id}${set.category ? ` (${set.category})` : ''}`,
      hosts,
      ...(prefixes.length > 0 ? { prefixes } : {}),
      path: set.expressRoute ? 'expressroute' : 'internet',
      data: 'other',
      note: `expressRoute ${set.expressRoute}${set.tcpPorts ? `, TCP ${set.tcpPorts}` : ''}${set.udpPorts ? `, UDP ${set.udpPorts}` : ''}${set.notes ? `. ${set.notes}` : ''}`,
      source: `${sourceKey}, endpoint set ${set.id}`,
    });
  }
  return {
    skipped,
    catalog: {
      schema: 'pathwarden.catalog/v1',
      name: 'm365-endpoints',
      version,
      description: `Imported by \`pathwarden catalog import m365-endpoints\` from ${basename(file)}.`,
      sources: {
        [sourceKey]: {
          title: `Microsoft 365 endpoint web service data, version ${version} (${basename(file)})`,
          url: 'https://endpoints.office.com/endpoints/worldwide',
        },
      },
      rules,
    },
  };
}

export function overlayYaml(catalog: CatalogInput): string {
  return `# Generated by pathwarden catalog import; load it with --catalog.\n${stringify(catalog, { lineWidth: 0 })}`;
}
