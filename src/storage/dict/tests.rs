//! Tests for `Dict`: model-based proptests, the SCAN guarantee, sampling,
//! and an ignored micro benchmark.
