//! The debconf protocol, spoken by the binary itself from the maintainer scripts.
