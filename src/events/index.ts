// Public surface of the completion events: what the use case publishes and what downstream systems read.
export {
  createEventConsumer,
  type EventConsumer,
  type EventConsumerOptions,
  type ReceivedEvent,
  type UnreadableEntry,
} from './consumer.js';
export { EventPublishError, InvalidEventError } from './errors.js';
export { eventId } from './event-id.js';
export {
  type CompletionEvent,
  completionEventSchema,
  EVENT_TYPES,
  type EventData,
  type EventType,
  eventDataSchemas,
  isEventType,
  REGISTRATION_REASONS,
  type RegistrationReason,
} from './event-types.js';
export {
  APPEND_ONCE_WINDOW_S,
  DEFAULT_EVENT_STREAM_MAX_LENGTH,
  type EventPublisher,
  eventStreamKey,
  type PublishedEvent,
  type PublishOptions,
  RedisStreamEventPublisher,
  type RedisStreamEventPublisherOptions,
} from './publisher.js';
