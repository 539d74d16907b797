//! Record-batch (magic 2) header parsing and validation. Written by the log work.
