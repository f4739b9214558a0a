/** Types and JSON schema of a probe pack's manifest.json (written by tools/probe-builder). */
import { CONCEPT_IDS, ConceptId } from '../domain/concepts';

export type ScopeRole = 'system' | 'user' | 'assistant' | 'tool';

/**
 * score = sigmoid(a * logit + c + length * ln(1 + n)), n = the concept's in-scope tokens. The
 * length term (packs from 2.2.0; absent = 0) discounts the larger benign maximum of a longer
 * conversation's windows, so one threshold serves short requests and long sessions.
 */
export interface Calibration {
  method: 'platt';
  a: number;
  c: number;
  length?: number;
}

export const AGGREGATIONS = ['mean', 'max', 'rolling'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

/**
 * A linear probe read per token: s_t = w . h_t + bias on the raw residual h_t of each in-scope
 * token, aggregated over the scope (mean; max; or the largest mean of `window` consecutive
 * in-scope tokens), then Platt-calibrated. The logit splits exactly into per-token contributions.
 */
export interface ProbeSpec {
  /** Weight file holding w, float32 [d_model]. */
  weights_file: string;
  bias: number;
  aggregation: Aggregation;
  window: number;
  calibration: Calibration;
}

/** A feature that explains the concept: alignment = input_scale * (w . decoder direction), the
 *  probe logit one unit of the feature's activation adds to a token. */
export interface ConceptFeature {
  feature: number;
  alignment: number;
}

export interface ConceptSpec {
  description: string;
  roles: ScopeRole[];
  detector: 'dense';
  threshold: number;
  probe: ProbeSpec;
  features: ConceptFeature[];
  evaluation?: unknown;
}

export interface FeatureCard {
  index: number;
  row: number;
  label: string;
  /** Windows of tokens around the feature's strongest activations in the labelled data. */
  top_contexts?: unknown[];
  precision?: unknown;
}

export interface WeightFile {
  file: string;
  dtype: 'float32-le';
  shape: number[];
  sha256: string;
}

export interface PackManifest {
  schema_version: 2;
  id: string;
  version: string;
  /** builder_model: the builder's key for the model (`probe-builder convert --model`); packs
   *  before it was recorded are SmolLM2's. */
  model: { id: string; builder_model?: string; file_sha256: string; layer: number; d_model: number; source: { package: string; version: string; file: string } };
  tokenizer: { sha256: string; chat_template_sha256: string; pad_token_id: number };
  /** The whole conversation is read in context, chunk_tokens at a time through the key/value
   *  cache; past context_tokens it is fitted (scoring.fitContext). */
  runtime: { context_tokens: number; chunk_tokens: number; outlier_norm: number; truncation?: string };
  sae: { id: string; architecture: string; input_scale: number };
  features: FeatureCard[];
  concepts: Record<ConceptId, ConceptSpec>;
  weights: Record<string, WeightFile>;
}

const num = { type: 'number' };
const calibration = {
  type: 'object',
  required: ['method', 'a', 'c'],
  properties: { method: { const: 'platt' }, a: num, c: num, length: num },
};

export const PACK_MANIFEST_SCHEMA = {
  type: 'object',
  required: ['schema_version', 'id', 'version', 'model', 'tokenizer', 'runtime', 'sae', 'features', 'concepts', 'weights'],
  properties: {
    schema_version: { const: 2 },
    id: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]*$' },
    version: { type: 'string', pattern: '^\\d+\\.\\d+\\.\\d+' },
    model: {
      type: 'object',
      required: ['id', 'file_sha256', 'layer', 'd_model', 'source'],
      properties: {
        id: { type: 'string' },
        builder_model: { type: 'string', pattern: '^[a-z0-9][a-z0-9.-]*$' },
        file_sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
        layer: { type: 'integer', minimum: 0 },
        d_model: { type: 'integer', minimum: 1 },
        source: { type: 'object', required: ['package', 'version', 'file'] },
      },
    },
    tokenizer: {
      type: 'object',
      required: ['sha256', 'chat_template_sha256', 'pad_token_id'],
      properties: { sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' }, pad_token_id: { type: 'integer' } },
    },
    runtime: {
      type: 'object',
      required: ['context_tokens', 'chunk_tokens', 'outlier_norm'],
      properties: { context_tokens: { type: 'integer', minimum: 8 }, chunk_tokens: { type: 'integer', minimum: 1 }, outlier_norm: num },
    },
    sae: { type: 'object', required: ['id', 'architecture', 'input_scale'], properties: { input_scale: { type: 'number', exclusiveMinimum: 0 } } },
    features: {
      type: 'array',
      items: { type: 'object', required: ['index', 'row', 'label'], properties: { index: { type: 'integer' }, row: { type: 'integer' }, label: { type: 'string' } } },
    },
    concepts: {
      type: 'object',
      required: [...CONCEPT_IDS],
      additionalProperties: {
        type: 'object',
        required: ['description', 'roles', 'detector', 'threshold', 'probe', 'features'],
        properties: {
          roles: { type: 'array', minItems: 1, items: { enum: ['system', 'user', 'assistant', 'tool'] } },
          detector: { const: 'dense' },
          threshold: { type: 'number', minimum: 0, maximum: 1 },
          probe: {
            type: 'object',
            required: ['weights_file', 'bias', 'aggregation', 'window', 'calibration'],
            properties: {
              weights_file: { type: 'string' },
              bias: num,
              aggregation: { enum: [...AGGREGATIONS] },
              window: { type: 'integer', minimum: 1 },
              calibration,
            },
          },
          features: {
            type: 'array',
            items: { type: 'object', required: ['feature', 'alignment'], properties: { feature: { type: 'integer' }, alignment: num } },
          },
        },
      },
    },
    weights: {
      type: 'object',
      required: ['sae-encoder', 'sae-bias', 'sae-threshold', 'b-dec'],
      additionalProperties: {
        type: 'object',
        required: ['file', 'dtype', 'shape', 'sha256'],
        properties: { dtype: { const: 'float32-le' }, shape: { type: 'array', items: { type: 'integer' } }, sha256: { type: 'string' } },
      },
    },
  },
} as const;
