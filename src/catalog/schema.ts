// The zod schema of a catalog file. Parse, don't validate: a file becomes a typed Catalog here
// or a list of located issues; nothing downstream re-checks shapes.
import { z } from 'zod';
import { type Component, components, dataKinds, rulePaths } from './model.js';

export const ruleSchema = z.strictObject({
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]*$/, 'rule id must be lower-case letters, digits, ".", "_" or "-"'),
  components: z
    .union([z.literal('all'), z.array(z.string()).min(1, 'components must list at least one')], {
      error: `components must be "all" or a list of ${components.join(', ')}`,
    })
    .superRefine((value, ctx) => {
      if (value === 'all') return;
      value.forEach((name, i) => {
        if (!(components as readonly string[]).includes(name)) {
          ctx.addIssue({
            code: 'custom',
            path: [i],
            message: `unknown component "${name}" (expected one of ${components.join(', ')})`,
          });
        }
      });
    })
    .transform((value) => (value === 'all' ? [...components] : [...new Set(value as Component[])])),
  activity: z.string().min(1),
  hosts: z.array(z.string()).default([]),
  prefixes: z.array(z.string()).optional(),
  ports: z.array(z.number().int().min(1).max(65535)).min(1).optional(),
  path: z.enum(rulePaths),
  data: z.enum(dataKinds),
  note: z.string().min(1).optional(),
  source: z.string().min(1),
});

export const catalogSchema = z.strictObject({
  schema: z.literal('pathwarden.catalog/v1'),
  name: z.string().min(1),
  version: z.string().min(1),
  title: z.string().optional(),
  description: z.string().optional(),
  sources: z
    .record(
      z.string(),
      z.strictObject({ title: z.string(), url: z.string().optional(), date: z.string().optional() }),
    )
    .default({}),
  notes: z
    .array(z.strictObject({ id: z.string().min(1), text: z.string().min(1), source: z.string().min(1) }))
    .default([]),
  rules: z.array(ruleSchema),
  statements: z
    .array(z.strictObject({ ref: z.string().min(1), says: z.string().min(1), rules: z.array(z.string()) }))
    .default([]),
  profiles: z
    .record(
      z.string().regex(/^[a-z][a-z0-9-]*$/, 'profile names are lower-case letters, digits and "-"'),
      z
        .strictObject({
          title: z.string().min(1),
          description: z.string().optional(),
          rules: z.array(z.string().min(1)).optional(),
          exclude: z.array(z.string().min(1)).optional(),
        })
        .refine((profile) => !(profile.rules && profile.exclude), {
          message: 'a profile lists either `rules` (exactly these) or `exclude`, not both',
        }),
    )
    .optional(),
  defaultProfile: z.string().min(1).optional(),
});

export type CatalogInput = z.input<typeof catalogSchema>;
