//! Configuration: every redis.conf directive, parsing, CONFIG GET/SET/REWRITE.
