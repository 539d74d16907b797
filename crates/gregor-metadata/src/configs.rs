//! Kafka broker and topic config definitions. (Being written.)
