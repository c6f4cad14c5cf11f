//! Where answers come from, lowest precedence first: built-in defaults and detected values, the
//! existing configuration, an answers file, `MATHESAR_*` environment variables, and finally debconf
//! or terminal prompts.

pub mod answers_file;
pub mod defaults;
pub mod detect;
pub mod environment;
pub mod existing;
pub mod prompt;
