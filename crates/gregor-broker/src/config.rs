//! server.properties loading. (Being written.)
