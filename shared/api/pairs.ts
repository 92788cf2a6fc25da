/** Pair registry messages: what a client sends to create, update, fork and list pairs. */
import { z } from 'zod';
import { decimalOr } from './params.ts';
import { label } from './text.ts';

/** URL-safe pair name: lowercase letters, digits and inner dashes, 3..64 characters. */
export const SlugSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$/, 'slug must be 3-64 characters of a-z, 0-9 and inner dashes');

const text = (max: number) => label(max);
const description = () => label(4000, { optional: true, multiline: true });

export const PairCreateSchema = z.strictObject({
  slug: SlugSchema,
  title: text(120),
  domainA: text(60),
  domainB: text(60),
  description: description().default(''),
  licence: text(60),
});
export type PairCreate = z.input<typeof PairCreateSchema>;

export const PairUpdateSchema = z
  .strictObject({
    title: text(120),
    domainA: text(60),
    domainB: text(60),
    description: description(),
    licence: text(60),
  })
  .partial()
  .refine((u) => Object.keys(u).length > 0, 'give at least one field to change');
export type PairUpdate = z.input<typeof PairUpdateSchema>;

export const PairForkSchema = z.strictObject({
  slug: SlugSchema,
  title: text(120).optional(),
});
export type PairFork = z.input<typeof PairForkSchema>;

export const DOMAINS = ['A', 'B'] as const;
export type SampleDomain = (typeof DOMAINS)[number];
/** Gallery images per domain. */
export const MAX_SAMPLES_PER_DOMAIN = 4;
export const MAX_SAMPLE_BYTES = 256 * 1024;
export const SAMPLE_TYPES = ['image/png', 'image/jpeg', 'image/webp'] as const;
/** Largest width or height of a gallery image, in pixels. */
export const MAX_SAMPLE_SIDE = 4096;

export const PairSchema = z.object({
  slug: SlugSchema,
  title: z.string(),
  domainA: z.string(),
  domainB: z.string(),
  description: z.string(),
  licence: z.string(),
  /** Token id of the owner. */
  owner: z.string(),
  forkedFrom: z.object({ slug: z.string(), version: z.number().int().nullable() }).nullable(),
  currentVersion: z.number().int().nullable(),
  /** URLs of the gallery images, per domain. */
  samples: z.object({ A: z.array(z.string()), B: z.array(z.string()) }),
  /** The version that was current when the newest gallery image was uploaded (null: unknown or none). */
  samplesVersion: z.number().int().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Pair = z.infer<typeof PairSchema>;

export const PairListQuerySchema = z.object({
  /** Case-insensitive substring of the slug, title, domain names or description. */
  q: z.string().max(100).optional(),
  /** Page size, 1..100; absent or empty means 20. */
  limit: decimalOr(1, 100, 20),
  /** Opaque cursor from the previous page's `next`. */
  cursor: z.string().max(200).optional(),
});
export type PairListQuery = z.input<typeof PairListQuerySchema>;

export const PairListSchema = z.object({
  pairs: z.array(PairSchema),
  /** Cursor for the next page, or null on the last page. */
  next: z.string().nullable(),
});
export type PairList = z.infer<typeof PairListSchema>;
