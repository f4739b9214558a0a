/** Events as probewatch receives them: the shared vocabulary of every stage (validation lives in ingest/event-contract). */

export const MESSAGE_ROLES = ['system', 'user', 'assistant', 'tool'] as const;
export type MessageRole = (typeof MESSAGE_ROLES)[number];

export interface ChatMessage {
  role: MessageRole;
  content: string;
}

export interface ProbeEvent {
  id: string;
  /** RFC 3339, normalised to UTC with millisecond precision (`2026-11-30T07:00:00.000Z`). */
  timestamp: string;
  tenant: string;
  source: string;
  model: string;
  messages: ChatMessage[];
  /** The end user (an opaque id chosen by the caller): rules group, count and sequence by it. */
  user?: string;
  metadata?: Record<string, unknown>;
}

export interface FieldError {
  field: string;
  message: string;
}

/** Where an event came in: the HTTP API, Kafka, or the accept log replayed at start. */
export type Channel = 'http' | 'kafka' | 'replay';
