//! Security estimates for RLWE with ternary secrets and error of standard deviation 3.2.
//!
//! The numbers are the maximum `log2(QP)` per ring degree in Table 1 of the Homomorphic
//! Encryption Standard (Albrecht et al., "Homomorphic Encryption Security Standard",
//! HomomorphicEncryption.org, November 2018), classical attacks, uniform ternary secret,
//! as estimated with the lattice estimator. SEAL and Lattigo use the same table. The
//! standard stops at N = 2^15; the 128-bit bounds at N = 2^16 and 2^17 are OpenFHE's
//! (`stdlatticeparms.cpp`, HEStd_128_classic, uniform ternary), which Bossuat et al.,
//! "Security Guidelines for Implementing Homomorphic Encryption" (ia.cr/2024/463) confirm.

/// Where every estimate in this module comes from.
pub const SECURITY_SOURCE: &str =
    "HomomorphicEncryption.org Security Standard (2018), Table 1: ternary secret, classical; \
     N = 2^16, 2^17 at 128 bits: OpenFHE HEStd_128_classic (ia.cr/2024/463)";

/// `(log2 N, [max log QP for 128, 192, 256 bits])`.
const HE_STANDARD_TERNARY: [(u32, [u32; 3]); 6] = [
    (10, [27, 19, 14]),
    (11, [54, 37, 29]),
    (12, [109, 75, 58]),
    (13, [218, 152, 118]),
    (14, [438, 305, 237]),
    (15, [881, 611, 476]),
];

/// `(log2 N, max log QP for 128 bits)` beyond the standard's table.
const EXTENDED_128: [(u32, u32); 2] = [(16, 1747), (17, 3523)];

/// Estimated classical security in bits (256, 192 or 128), or `None` below 128 bits.
pub fn estimate_bits(log_n: u32, log_qp: u32) -> Option<u32> {
    if let Some((_, max)) = EXTENDED_128.iter().find(|(l, _)| *l == log_n) {
        return (log_qp <= *max).then_some(128);
    }
    let (_, limits) = HE_STANDARD_TERNARY.iter().find(|(l, _)| *l == log_n)?;
    [(256, limits[2]), (192, limits[1]), (128, limits[0])]
        .into_iter()
        .find(|(_, max)| log_qp <= *max)
        .map(|(bits, _)| bits)
}

/// The largest `log2(QP)` that keeps 128-bit security at this degree.
pub fn max_log_qp_128(log_n: u32) -> Option<u32> {
    HE_STANDARD_TERNARY
        .iter()
        .find(|(l, _)| *l == log_n)
        .map(|(_, m)| m[0])
        .or_else(|| {
            EXTENDED_128
                .iter()
                .find(|(l, _)| *l == log_n)
                .map(|(_, m)| *m)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lookups() {
        assert_eq!(estimate_bits(15, 881), Some(128));
        assert_eq!(estimate_bits(15, 882), None);
        assert_eq!(estimate_bits(15, 600), Some(192));
        assert_eq!(estimate_bits(13, 100), Some(256));
        assert_eq!(estimate_bits(9, 10), None);
        assert_eq!(max_log_qp_128(14), Some(438));
        assert_eq!(estimate_bits(16, 1747), Some(128));
        assert_eq!(estimate_bits(16, 1748), None);
        assert_eq!(max_log_qp_128(16), Some(1747));
    }
}
