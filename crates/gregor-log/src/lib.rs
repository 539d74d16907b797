//! One partition's log. (Being written.)
