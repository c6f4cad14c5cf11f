//! The Docker Compose lifecycle of the Mathesar stack.
