//! Proptest strategies for scenarios (in progress).
