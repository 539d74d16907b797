//! Test kit. (Being written.)
