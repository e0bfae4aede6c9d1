//! # shroud-lwe
//!
//! Bit-level FHE: the GSW matrix scheme and bootstrapped LWE gates. (Under construction.)
