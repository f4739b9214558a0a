/** Types and JSON schema of a probe pack's manifest.json (written by tools/probe-builder). */

export const CONCEPT_IDS = ['deception', 'sycophancy', 'harmful_intent', 'prompt_injection'] as const;
export type ConceptId = (typeof CONCEPT_IDS)[number];
export type ScopeRole = 'system' | 'user' | 'assistant' | 'tool';

export interface Calibration {
  method: 'platt';
  a: number;
  c: number;
}

export interface SaeProbeSpec {
  features: number[];
  mean: number[];
  std: number[];
  weights: number[];
  bias: number;
  threshold: number;
  calibration: Calibration;
}

export interface DenseProbeSpec {
  weights_file: string;
  bias: number;
  threshold: number;
  calibration: Calibration;
}

export interface ConceptSpec {
  description: string;
  roles: ScopeRole[];
  detector: 'sae' | 'dense';
  threshold: number;
  sae_probe: SaeProbeSpec;
  dense_probe: DenseProbeSpec;
  evaluation?: unknown;
}

export interface FeatureCard {
  index: number;
  row: number;
  label: string;
  top_tokens?: string[];
  top_examples?: unknown[];
}

export interface WeightFile {
  file: string;
  dtype: 'float32-le';
  shape: number[];
  sha256: string;
}

export interface PackManifest {
  schema_version: 1;
  id: string;
  version: string;
  model: { id: string; file_sha256: string; layer: number; d_model: number; source: { package: string; version: string; file: string } };
  tokenizer: { sha256: string; chat_template_sha256: string; pad_token_id: number };
  runtime: { max_tokens: number; max_windows: number; outlier_norm: number };
  sae: { id: string; architecture: string; input_scale: number };
  features: FeatureCard[];
  concepts: Record<ConceptId, ConceptSpec>;
  weights: Record<string, WeightFile>;
}

const num = { type: 'number' };
const calibration = {
  type: 'object',
  required: ['method', 'a', 'c'],
  properties: { method: { const: 'platt' }, a: num, c: num },
};

export const PACK_MANIFEST_SCHEMA = {
  type: 'object',
  required: ['schema_version', 'id', 'version', 'model', 'tokenizer', 'runtime', 'sae', 'features', 'concepts', 'weights'],
  properties: {
    schema_version: { const: 1 },
    id: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]*$' },
    version: { type: 'string', pattern: '^\\d+\\.\\d+\\.\\d+' },
    model: {
      type: 'object',
      required: ['id', 'file_sha256', 'layer', 'd_model', 'source'],
      properties: {
        id: { type: 'string' },
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
      required: ['max_tokens', 'max_windows', 'outlier_norm'],
      properties: { max_tokens: { type: 'integer', minimum: 8 }, max_windows: { type: 'integer', minimum: 1 }, outlier_norm: num },
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
        required: ['description', 'roles', 'detector', 'threshold', 'sae_probe', 'dense_probe'],
        properties: {
          roles: { type: 'array', minItems: 1, items: { enum: ['system', 'user', 'assistant', 'tool'] } },
          detector: { enum: ['sae', 'dense'] },
          threshold: { type: 'number', minimum: 0, maximum: 1 },
          sae_probe: {
            type: 'object',
            required: ['features', 'mean', 'std', 'weights', 'bias', 'threshold', 'calibration'],
            properties: { features: { type: 'array', items: { type: 'integer' } }, calibration },
          },
          dense_probe: { type: 'object', required: ['weights_file', 'bias', 'threshold', 'calibration'], properties: { calibration } },
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
