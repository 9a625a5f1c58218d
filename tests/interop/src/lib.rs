//! Cross-implementation tests live in tests/.
