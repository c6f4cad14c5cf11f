//! The questions of the package's `config` script.
